"""uploads.resume_key: resume an upload from a new client process

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("uploads") as batch:
        batch.add_column(sa.Column("resume_key", sa.String(length=128), nullable=True))
        batch.create_unique_constraint("uq_uploads_workspace_resume_key", ["workspace_id", "resume_key"])


def downgrade() -> None:
    with op.batch_alter_table("uploads") as batch:
        batch.drop_constraint("uq_uploads_workspace_resume_key", type_="unique")
        batch.drop_column("resume_key")

"""each model's latest version on its row, kept by triggers on model_versions

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

from modeldeck.platform import latest

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("models", sa.Column("latest_version", sa.String(64), nullable=True))
    op.add_column("models", sa.Column("latest_status", sa.String(16), nullable=True))
    latest.install(op.get_bind())  # the triggers as this release defines them, and the columns filled


def downgrade() -> None:
    latest.uninstall(op.get_bind())
    with op.batch_alter_table("models") as batch:
        batch.drop_column("latest_status")
        batch.drop_column("latest_version")

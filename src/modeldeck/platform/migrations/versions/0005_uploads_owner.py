"""uploads belong to the account that created them: its resume keys are its own

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01
"""

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("uploads") as batch:
        batch.drop_constraint("uq_uploads_workspace_resume_key", type_="unique")
        batch.create_unique_constraint("uq_uploads_owner_resume_key", ["workspace_id", "account_id", "resume_key"])


def downgrade() -> None:
    with op.batch_alter_table("uploads") as batch:
        batch.drop_constraint("uq_uploads_owner_resume_key", type_="unique")
        batch.create_unique_constraint("uq_uploads_workspace_resume_key", ["workspace_id", "resume_key"])

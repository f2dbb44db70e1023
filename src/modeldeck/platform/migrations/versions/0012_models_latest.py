"""models keep the version `latest` serves (name and status): a models page reads no version

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

# The newest version that is not rejected, in registry._ordered_versions' order.
_NEWEST = (
    "(SELECT v.{column} FROM model_versions v WHERE v.model_id = models.id AND v.approval_status != 'Rejected' "
    "ORDER BY v.major DESC, v.minor DESC, v.patch DESC, v.version_name DESC LIMIT 1)"
)


def upgrade() -> None:
    with op.batch_alter_table("models") as batch:
        batch.add_column(sa.Column("latest_name", sa.String(64), nullable=True))
        batch.add_column(sa.Column("latest_status", sa.String(16), nullable=True))
    op.execute(
        f"UPDATE models SET latest_name = {_NEWEST.format(column='version_name')}, "
        f"latest_status = {_NEWEST.format(column='approval_status')}"
    )


def downgrade() -> None:
    with op.batch_alter_table("models") as batch:
        batch.drop_column("latest_status")
        batch.drop_column("latest_name")

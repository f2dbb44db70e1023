"""the access epoch: a token that the tables deciding access change with every write (PostgreSQL)

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03
"""

from alembic import op

from modeldeck.platform import epoch

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    epoch.install(op.get_bind())


def downgrade() -> None:
    epoch.uninstall(op.get_bind())

"""the latest-version triggers write a model's row only when its latest version changed

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02
"""

from alembic import op

from modeldeck.platform import latest

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    latest.install(op.get_bind())  # replaces 0012's triggers


def downgrade() -> None:
    """Nothing to undo: the triggers keep the columns 0012 added exactly as 0012's did, with fewer writes."""

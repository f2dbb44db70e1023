"""models by name through a hash index: a workspace's page never walks the name order of every model

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01
"""

from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_models_name", table_name="models")
    op.create_index("ix_models_name", "models", ["model_name"], postgresql_using="hash")


def downgrade() -> None:
    op.drop_index("ix_models_name", table_name="models")
    op.create_index("ix_models_name", "models", ["model_name"])

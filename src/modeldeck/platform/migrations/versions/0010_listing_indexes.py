"""listing indexes: a model by name, the PUBLIC models in page order, a workspace's grants

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01
"""

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_models_name", "models", ["model_name"])
    op.create_index("ix_models_public", "models", ["accessibility", "model_name", "id"])
    op.create_index("ix_grants_workspace", "grants", ["workspace_id", "model_id"])


def downgrade() -> None:
    op.drop_index("ix_grants_workspace", table_name="grants")
    op.drop_index("ix_models_public", table_name="models")
    op.drop_index("ix_models_name", table_name="models")

"""rules edges: how each bid part was opened, and the evidence when the opening key failed (R-B1, R-B6)

Revision ID: 0016_rules_edges
Revises: 0014_crl_history
Create Date: 2026-12-03 10:00:00.000000
"""

from alembic import op
import sqlalchemy as sa


revision = '0016_rules_edges'
down_revision = "0015_confidentiality"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('part_openings', schema=None) as batch_op:
        batch_op.add_column(sa.Column('opened_with', sa.String(length=12), nullable=True))
        batch_op.add_column(sa.Column('evidence', sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('part_openings', schema=None) as batch_op:
        batch_op.drop_column('evidence')
        batch_op.drop_column('opened_with')

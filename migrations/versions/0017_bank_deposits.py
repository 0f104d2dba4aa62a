"""bank deposits: official calendar coverage, deposits confirmed by bank statements, refund batches

Revision ID: 0017_bank_deposits
Revises: 0014_crl_history
Create Date: 2026-12-03 10:00:00
"""

from alembic import op
import sqlalchemy as sa
import core.db


revision = '0017_bank_deposits'
down_revision = '0014_crl_history'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('calendar_years',
    sa.Column('year', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('source', sa.String(length=300), nullable=False),
    sa.Column('loaded_at', core.db.UtcDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('year', name=op.f('pk_calendar_years'))
    )


def downgrade() -> None:
    op.drop_table('calendar_years')

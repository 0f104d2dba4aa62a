"""scoring schemes

Revision ID: 0012_scoring_schemes
Revises: 0011_credit
Create Date: 2026-11-22 12:40:00
"""

from alembic import op
import sqlalchemy as sa
import core.db


revision = '0012_scoring_schemes'
down_revision = '0011_credit'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'scoring_schemes',
        sa.Column('tender_id', sa.Uuid(), nullable=False),
        sa.Column('method', sa.String(length=16), nullable=False),
        sa.Column('subject', sa.String(length=16), nullable=False),
        sa.Column('price_formula', sa.String(length=20), nullable=False),
        sa.Column('price_points', sa.Integer(), nullable=False),
        sa.Column('definition', sa.JSON(), nullable=False),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.Column('updated_by_id', sa.Uuid(), nullable=False),
        sa.Column('updated_at', core.db.UtcDateTime(), nullable=False),
        sa.CheckConstraint("method IN ('comprehensive', 'lowest_price')", name=op.f('ck_scoring_schemes_method')),
        sa.CheckConstraint("subject IN ('goods', 'services', 'works')", name=op.f('ck_scoring_schemes_subject')),
        sa.CheckConstraint(
            "(method = 'lowest_price' AND price_formula = 'none' AND price_points = 0)"
            " OR (method = 'comprehensive' AND price_formula IN ('lowest_valid', 'average_benchmark')"
            " AND price_points > 0 AND price_points <= 10000)",
            name=op.f('ck_scoring_schemes_price_rule'),
        ),
        sa.CheckConstraint(
            "NOT (subject = 'goods' AND method = 'comprehensive' AND price_points < 3000)"
            " AND NOT (subject = 'services' AND method = 'comprehensive' AND price_points < 1000)",
            name=op.f('ck_scoring_schemes_price_minimum'),
        ),
        sa.CheckConstraint('version >= 1', name=op.f('ck_scoring_schemes_version_positive')),
        sa.ForeignKeyConstraint(['tender_id'], ['tenders.id'], name=op.f('fk_scoring_schemes_tender_id_tenders'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['updated_by_id'], ['users.id'], name=op.f('fk_scoring_schemes_updated_by_id_users')),
        sa.PrimaryKeyConstraint('tender_id', name=op.f('pk_scoring_schemes')),
    )


def downgrade() -> None:
    op.drop_table('scoring_schemes')

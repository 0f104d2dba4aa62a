"""bank deposits: official calendar coverage, deposits confirmed by bank statements, refund batches

Revision ID: 0017_bank_deposits
Revises: 0014_crl_history
Create Date: 2026-12-03 10:00:00
"""

from alembic import op
import sqlalchemy as sa
import core.db


revision = '0017_bank_deposits'
down_revision = '0020_people'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('calendar_years',
    sa.Column('year', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('source', sa.String(length=300), nullable=False),
    sa.Column('loaded_at', core.db.UtcDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('year', name=op.f('pk_calendar_years'))
    )
    op.create_table('bank_statements',
    sa.Column('filename', sa.String(length=200), nullable=False),
    sa.Column('format', sa.String(length=8), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('account_no', sa.String(length=40), nullable=False),
    sa.Column('lines', sa.Integer(), nullable=False),
    sa.Column('counts', sa.JSON(), nullable=False),
    sa.Column('skipped', sa.JSON(), nullable=False),
    sa.Column('imported_by_id', sa.Uuid(), nullable=True),
    sa.Column('imported_at', core.db.UtcDateTime(timezone=True), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.CheckConstraint("format IN ('csv', 'camt053')", name=op.f('ck_bank_statements_format')),
    sa.ForeignKeyConstraint(['imported_by_id'], ['users.id'], name=op.f('fk_bank_statements_imported_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_bank_statements'))
    )
    with op.batch_alter_table('bank_statements', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_bank_statements_sha256'), ['sha256'], unique=False)

    op.create_table('refund_batches',
    sa.Column('number', sa.String(length=20), nullable=False),
    sa.Column('created_by_id', sa.Uuid(), nullable=True),
    sa.Column('created_at', core.db.UtcDateTime(timezone=True), nullable=False),
    sa.Column('total_fen', sa.BigInteger(), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_refund_batches_created_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_refund_batches')),
    sa.UniqueConstraint('number', name=op.f('uq_refund_batches_number'))
    )
    op.create_table('deposit_references',
    sa.Column('reference', sa.String(length=16), nullable=False),
    sa.Column('tender_id', sa.Uuid(), nullable=False),
    sa.Column('lot_number', sa.Integer(), nullable=False),
    sa.Column('organization_id', sa.Uuid(), nullable=False),
    sa.Column('sub_account', sa.String(length=40), nullable=False),
    sa.Column('amount_fen', sa.BigInteger(), nullable=False),
    sa.Column('issued_by_id', sa.Uuid(), nullable=False),
    sa.Column('created_at', core.db.UtcDateTime(timezone=True), nullable=False),
    sa.Column('deposit_id', sa.Uuid(), nullable=True),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.CheckConstraint('amount_fen > 0', name=op.f('ck_deposit_references_amount_positive')),
    sa.ForeignKeyConstraint(['deposit_id'], ['deposits.id'], name=op.f('fk_deposit_references_deposit_id_deposits')),
    sa.ForeignKeyConstraint(['issued_by_id'], ['users.id'], name=op.f('fk_deposit_references_issued_by_id_users')),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_deposit_references_organization_id_organizations')),
    sa.ForeignKeyConstraint(['tender_id'], ['tenders.id'], name=op.f('fk_deposit_references_tender_id_tenders')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_deposit_references')),
    sa.UniqueConstraint('reference', name=op.f('uq_deposit_references_reference')),
    sa.UniqueConstraint('tender_id', 'lot_number', 'organization_id', name=op.f('uq_deposit_references_tender_id_lot_number_organization_id'))
    )
    op.create_table('bank_transactions',
    sa.Column('statement_id', sa.Uuid(), nullable=False),
    sa.Column('line', sa.Integer(), nullable=False),
    sa.Column('account_no', sa.String(length=40), nullable=False),
    sa.Column('sub_account', sa.String(length=40), nullable=False),
    sa.Column('bank_ref', sa.String(length=64), nullable=False),
    sa.Column('booked_at', core.db.UtcDateTime(timezone=True), nullable=False),
    sa.Column('amount_fen', sa.BigInteger(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('counterparty_account', sa.String(length=40), nullable=False),
    sa.Column('counterparty_name', sa.String(length=200), nullable=False),
    sa.Column('counterparty_bank', sa.String(length=100), nullable=False),
    sa.Column('memo', sa.String(length=300), nullable=False),
    sa.Column('outcome', sa.String(length=12), nullable=False),
    sa.Column('detail', sa.String(length=32), nullable=False),
    sa.Column('deposit_reference_id', sa.Uuid(), nullable=True),
    sa.Column('deposit_id', sa.Uuid(), nullable=True),
    sa.Column('settled_at', core.db.UtcDateTime(timezone=True), nullable=True),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.CheckConstraint("outcome IN ('matched', 'partial', 'refused', 'unmatched', 'refund_paid')", name=op.f('ck_bank_transactions_outcome')),
    sa.CheckConstraint('amount_fen <> 0', name=op.f('ck_bank_transactions_not_zero')),
    sa.ForeignKeyConstraint(['deposit_id'], ['deposits.id'], name=op.f('fk_bank_transactions_deposit_id_deposits')),
    sa.ForeignKeyConstraint(['deposit_reference_id'], ['deposit_references.id'], name=op.f('fk_bank_transactions_deposit_reference_id_deposit_references')),
    sa.ForeignKeyConstraint(['statement_id'], ['bank_statements.id'], name=op.f('fk_bank_transactions_statement_id_bank_statements')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_bank_transactions')),
    sa.UniqueConstraint('account_no', 'bank_ref', name=op.f('uq_bank_transactions_account_no_bank_ref'))
    )
    with op.batch_alter_table('bank_transactions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_bank_transactions_deposit_reference_id'), ['deposit_reference_id'], unique=False)
        batch_op.create_index('ix_bank_transactions_open', ['outcome', 'settled_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_bank_transactions_statement_id'), ['statement_id'], unique=False)

    op.create_table('refund_lines',
    sa.Column('batch_id', sa.Uuid(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('reference', sa.String(length=16), nullable=False),
    sa.Column('deposit_id', sa.Uuid(), nullable=True),
    sa.Column('returned_transaction_id', sa.Uuid(), nullable=True),
    sa.Column('payee_account', sa.String(length=40), nullable=False),
    sa.Column('payee_name', sa.String(length=200), nullable=False),
    sa.Column('payee_bank', sa.String(length=100), nullable=False),
    sa.Column('amount_fen', sa.BigInteger(), nullable=False),
    sa.Column('interest_fen', sa.BigInteger(), nullable=False),
    sa.Column('late_charge_fen', sa.BigInteger(), nullable=False),
    sa.Column('paid_transaction_id', sa.Uuid(), nullable=True),
    sa.Column('paid_at', core.db.UtcDateTime(timezone=True), nullable=True),
    sa.Column('cancelled_at', core.db.UtcDateTime(timezone=True), nullable=True),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.CheckConstraint('(deposit_id IS NULL) <> (returned_transaction_id IS NULL)', name=op.f('ck_refund_lines_one_source')),
    sa.CheckConstraint('amount_fen > 0', name=op.f('ck_refund_lines_amount_positive')),
    sa.CheckConstraint('paid_at IS NULL OR cancelled_at IS NULL', name=op.f('ck_refund_lines_paid_or_cancelled')),
    sa.ForeignKeyConstraint(['batch_id'], ['refund_batches.id'], name=op.f('fk_refund_lines_batch_id_refund_batches')),
    sa.ForeignKeyConstraint(['deposit_id'], ['deposits.id'], name=op.f('fk_refund_lines_deposit_id_deposits')),
    sa.ForeignKeyConstraint(['paid_transaction_id'], ['bank_transactions.id'], name=op.f('fk_refund_lines_paid_transaction_id_bank_transactions')),
    sa.ForeignKeyConstraint(['returned_transaction_id'], ['bank_transactions.id'], name=op.f('fk_refund_lines_returned_transaction_id_bank_transactions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_refund_lines')),
    sa.UniqueConstraint('batch_id', 'position', name=op.f('uq_refund_lines_batch_id_position')),
    sa.UniqueConstraint('reference', name=op.f('uq_refund_lines_reference'))
    )
    with op.batch_alter_table('refund_lines', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_refund_lines_batch_id'), ['batch_id'], unique=False)

    with op.batch_alter_table('deposits', schema=None) as batch_op:
        batch_op.add_column(sa.Column('verification_ref', sa.String(length=100), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('deposits', schema=None) as batch_op:
        batch_op.drop_column('verification_ref')

    with op.batch_alter_table('refund_lines', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_refund_lines_batch_id'))

    op.drop_table('refund_lines')
    with op.batch_alter_table('bank_transactions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_bank_transactions_statement_id'))
        batch_op.drop_index('ix_bank_transactions_open')
        batch_op.drop_index(batch_op.f('ix_bank_transactions_deposit_reference_id'))

    op.drop_table('bank_transactions')
    op.drop_table('deposit_references')
    op.drop_table('refund_batches')
    with op.batch_alter_table('bank_statements', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_bank_statements_sha256'))

    op.drop_table('bank_statements')
    op.drop_table('calendar_years')

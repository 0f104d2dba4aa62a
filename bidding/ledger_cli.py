"""``flask --app wsgi ledger check``: prove the deposit books balance (exit status 1 if they do not).

Prints the trial balance of every account and then what is wrong, if anything: a transaction whose
lines do not sum to zero, a ledger that does not, or a deposit whose account does not hold what its
state says is owed (R-D3; ARCHITECTURE "Money").
"""

from __future__ import annotations

import click
from flask.cli import AppGroup

from bidding import ledger_view
from core.db import db
from core.money import yuan_text

ledger_cli = AppGroup("ledger", help="The deposit ledger (double entry, integer fen).")


@ledger_cli.command("check")
def check() -> None:
    """Check that the books balance; exit 1 when they do not."""
    result = ledger_view.check(db.session)
    tb = result.trial_balance
    width = max([len(row.account) for row in tb.rows] + [7])
    click.echo(f"{'account':<{width}}  {'debits':>18}  {'credits':>18}  {'balance':>18}")
    for row in tb.rows:
        click.echo(
            f"{row.account:<{width}}  {yuan_text(row.debit_fen):>18}  {yuan_text(row.credit_fen):>18}"
            f"  {yuan_text(row.balance_fen):>18}"
        )
    click.echo(f"{'total':<{width}}  {yuan_text(tb.debit_fen):>18}  {yuan_text(tb.credit_fen):>18}")
    for problem in result.problems:
        click.echo(f"problem: {problem}", err=True)
    if not result.ok:
        raise click.ClickException("the books do not balance")
    click.echo(f"balanced: {len(tb.rows)} accounts, debits equal credits (CNY {yuan_text(tb.debit_fen)})")

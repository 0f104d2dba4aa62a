"""Words for the bidding package's values, fields, error codes and audit actions (see core.labels)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from core.labels import register

register(
    "tenders.status",
    {
        "draft": _l("draft"),
        "published": _l("published"),
        "failed": _l("failed"),
        "cancelled": _l("cancelled"),
    },
)
register("tenders.track", {"works": _l("works (工程)"), "procurement": _l("government procurement")})
register(
    "phase",
    {
        "draft": _l("draft"),
        "announced": _l("announced"),
        "bidding": _l("open for bids"),
        "paused": _l("paused (objection)"),
        "opening": _l("opening"),
        "failed": _l("failed (流标)"),
        "evaluating": _l("under evaluation"),
        "publicity": _l("candidates in publicity"),
        "awarded": _l("awarded"),
        "contracted": _l("contract signed"),
        "archived": _l("archived"),
        "cancelled": _l("cancelled"),
    },
)
register(
    "bids.status",
    {
        "uploading": _l("being uploaded"),
        "submitted": _l("submitted"),
        "replaced": _l("replaced"),
        "withdrawn": _l("withdrawn"),
    },
)
register(
    "bids.outcome",
    {"opened": _l("opened"), "revoked": _l("revoked (撤销)"), "withdrawn": _l("withdrawn (撤回)")},
)
register(
    "deposits.status",
    {
        "held": _l("held"),
        "refund_due": _l("refund due"),
        "refunded": _l("refunded"),
        "forfeited": _l("forfeited"),
    },
)
register("deposits.kind", {"money": _l("paid in money"), "guarantee": _l("e-guarantee")})
register("calendar_days.kind", {"holiday": _l("holiday"), "workday": _l("working day (调休)")})
register("interest_rates.kind", {"deposit": _l("bank deposit rate"), "lending": _l("lending rate")})
register(
    "objections.stage",
    {
        "documents": _l("to the documents"),
        "opening": _l("at the opening"),
        "publicity": _l("during publicity"),
    },
)
register(
    "openings.status",
    {
        "failed": _l("failed (fewer than 3 bids, R-B5)"),
        "decrypting": _l("decrypting"),
        "closed": _l("closed; record signed"),
    },
)
register(
    "tender_documents.kind",
    {"documents": _l("tender documents"), "amendment": _l("amendment"), "clarification": _l("clarification")},
)
PART_WORDS = {
    "qualification": _l("qualification part"),
    "technical": _l("technical part"),
    "commercial": _l("commercial part"),
}
register("bid_parts.part", PART_WORDS)
register("bid_uploads.part", PART_WORDS)
register("decryption", {"ok": _l("decrypted"), "failed": _l("failed"), "pending": _l("not yet decrypted")})
register(
    "decryption.attempt",
    {
        "opened": _l("decrypted now"),
        "failed": _l("could not be decrypted with this key"),
        "already_opened": _l("was already decrypted: nothing to do"),
        "not_sent": _l("no key was sent for it"),
    },
)
register(
    "collusion.signal",
    {
        "same_payer_account": _l("deposits paid from the same account"),
        "same_machine": _l("bids prepared on the same machine"),
        "identical_document": _l("identical bid documents"),
        "price_pattern": _l("prices in a regular pattern"),
        "same_project_manager": _l("the same project manager"),
        "same_agent": _l("the same agent acting for them"),
    },
)
register(
    "refund.reason",
    {
        "withdrawal": _l("bid withdrawn"),
        "contract": _l("contract signed"),
        "failed": _l("tender failed"),
        "award": _l("award notice"),
    },
)
register(
    "field",
    {
        "title": _l("Title"),
        "track": _l("Track"),
        "category": _l("Category"),
        "region": _l("Region"),
        "tenderee_id": _l("Tenderee"),
        "estimated_price": _l("Estimated price"),
        "deposit": _l("Deposit"),
        "lots": _l("Lot"),
        "documents_from": _l("Documents available from"),
        "documents_to": _l("Documents available until"),
        "clarification_deadline": _l("Questions until"),
        "objection_deadline": _l("Objections until"),
        "bid_deadline": _l("Bid deadline"),
        "amount": _l("Amount"),
        "documents": _l("Tender documents"),
        "text": _l("Text"),
        "file": _l("File"),
    },
)
register(
    "error",
    {
        "missing": _l("This is required."),
        "in_the_past": _l("This time has already passed."),
        "too_early": _l("This is too early for the rules."),
        "after_bid_deadline": _l("This is after the bid deadline."),
        "out_of_window": _l("This is outside the period the rules allow."),
        "estimate_required": _l("Give an estimated price above zero."),
        "deposit_over_cap": _l("The deposit is more than two percent of the estimated price (R-D1)."),
        "lots_exceed_estimate": _l("The lots add up to more than the tender's estimated price."),
        "stored_part_altered": _l(
            "The platform does not hold this part as it receipted it (the platform's fault)"
        ),
        "receipt_malformed": _l("This is not a bid receipt."),
        "receipt_signature_invalid": _l("The platform's signature on the receipt is not valid."),
        "receipt_wrong_key": _l("The receipt was signed with another key than this platform's."),
        "log_proof_malformed": _l("The receipt carries no log proof yet: download it again later."),
        "checkpoint_not_signed": _l("The checkpoint is not signed by the audit log's key."),
        "checkpoint_not_witnessed": _l("The checkpoint lacks the independent witness's cosignature."),
        "inclusion_proof_invalid": _l("The submission is not in the checkpoint the proof names."),
        "sealed_content_mismatch": _l("The logged submission is not the one the receipt describes."),
        "log_rolled_back": _l("The audit log was rolled back: it no longer holds the receipt's checkpoint."),
        "log_forked": _l("The audit log's history changed: it does not extend the receipt's checkpoint."),
        "bid_not_kept": _l("The platform no longer holds this bid as receipted."),
    },
)
register(
    "audit.action",
    {
        "bidding.bid_decrypted": _l("decrypted a bid at the opening"),
        "bidding.bid_opened": _l("started a bid"),
        "bidding.bid_opened_by_custodians": _l("had a bid opened by the custodians"),
        "bidding.bid_part_received": _l("uploaded a sealed bid part"),
        "bidding.bid_upload_started": _l("started a resumable upload of a sealed bid part"),
        "bidding.bid_submitted": _l("submitted a bid"),
        "bidding.bid_withdrawn": _l("withdrew a bid"),
        "bidding.calendar_day_set": _l("changed the holiday calendar"),
        "bidding.calendar_imported": _l("imported the holiday calendar"),
        "bidding.deposit_forfeited": _l("forfeited a deposit"),
        "bidding.deposit_paid": _l("paid a deposit"),
        "bidding.deposit_reference_issued": _l("took a deposit payment reference"),
        "bidding.draft_deleted": _l("deleted a draft tender"),
        "bidding.official_data_loaded": _l("loaded the official holidays and interest rates"),
        "bidding.refund_batch_created": _l("made a refund batch for the bank"),
        "bidding.refund_line_cancelled": _l("cancelled an unpaid refund batch line"),
        "bidding.statement_imported": _l("imported a bank statement"),
        "bidding.deposit_refunded": _l("refunded a deposit"),
        "bidding.document_downloaded": _l("downloaded the tender documents"),
        "bidding.document_uploaded": _l("uploaded tender documents"),
        "bidding.guarantee_filed": _l("filed an e-guarantee"),
        "bidding.interest_rate_set": _l("set an interest rate"),
        "bidding.objection_answered": _l("answered an objection"),
        "bidding.objection_raised": _l("raised an objection"),
        "bidding.opening_closed": _l("closed the opening and signed the record"),
        "bidding.opening_started": _l("started the opening"),
        "bidding.question_asked": _l("asked a question"),
        "bidding.refund_scheduled": _l("scheduled a deposit refund"),
        "bidding.share_released": _l("released an opening-key share"),
        "bidding.share_fetched": _l("fetched an opening-key share"),
        "bidding.share_refused": _l("was refused an opening-key share before the deadline"),
        "bidding.person_assigned": _l("assigned a person to the tender"),
        "bidding.person_unassigned": _l("took a person off the tender"),
        "bidding.tender_drafted": _l("drafted a tender"),
        "bidding.tender_published": _l("published the notice"),
        "bidding.tender_updated": _l("edited the draft"),
        "bidding.amendment_issued": _l("issued an amendment"),
        "bidding.clarification_issued": _l("issued a clarification"),
        "bidding.stored_part_altered": _l("found a stored bid part not as receipted (the platform's fault)"),
        "bidding.platform_fault_withdrawn": _l(
            "counted a bid as withdrawn for the platform's fault, its deposit refunded"
        ),
    },
)
register(
    "receipt.check",
    {
        "signature": _l("signed by the platform"),
        "proof": _l("the submission is in the audit log, in a checkpoint the witness cosigned"),
        "consistent": _l("the audit log still extends that checkpoint (no rollback)"),
        "kept": _l("the platform still holds the bid as receipted"),
    },
)
register(
    "tender_assignments.kind", {"agency": _l("runs the tender"), "supervisor": _l("oversees the tender")}
)
register(
    "custodian",
    {
        "agency": _l("agency"),
        "supervisor": _l("supervising authority"),
        "notary": _l("notary"),
        "second_authority": _l("second supervising authority"),
    },
)
register(
    "bank_transactions.outcome",
    {
        "matched": _l("deposit held"),
        "partial": _l("partial payment"),
        "refused": _l("refused"),
        "unmatched": _l("unmatched"),
        "refund_paid": _l("refund paid"),
        "duplicate": _l("duplicate"),
        "foreign": _l("not this account"),
        "malformed": _l("unreadable"),
    },
)
register(
    "bank_transactions.detail",
    {
        "short": _l("less than the lot requires: returned to the payer"),
        "not_basic_account": _l("not from the tenderer's basic account (R-D1): returned"),
        "late": _l("arrived after the bid deadline: returned"),
        "tender_closed": _l("the tender is closed: returned"),
        "deposit_exists": _l("a deposit is already held for this lot: returned"),
        "no_reference": _l("no payment reference in the memo"),
        "unknown_reference": _l("the memo's reference is not one we issued"),
        "reference_used": _l("this reference was already paid: returned"),
        "wrong_sub_account": _l("paid to another tender's sub-account"),
        "unknown_debit": _l("money out that is no refund of ours"),
        "refund_mismatch": _l("a refund's reference with another amount or payee"),
        "already_imported": _l("imported before"),
        "repeated": _l("twice in this file"),
        "other_account": _l("another account's line"),
        "other_currency": _l("not in yuan"),
        "not_booked": _l("not booked yet"),
        "missing": _l("missing"),
        "too_long": _l("too long"),
        "invalid_date": _l("not a date"),
        "invalid_amount": _l("not an amount"),
        "invalid_indicator": _l("neither credit nor debit"),
        "one_amount_needed": _l("needs exactly one amount, debit or credit"),
        "balances_do_not_add_up": _l("the entries do not add up to the closing balance"),
    },
)
register(
    "deposit_references.state",
    {
        "not_requested": _l("not paid yet"),
        "awaiting_payment": _l("waiting for the bank to show your payment"),
        "held": _l("held: confirmed by the bank"),
        "refund_due": _l("being refunded"),
        "refunded": _l("refunded"),
        "forfeited": _l("forfeited"),
    },
)


register("bank_statements.format", {"csv": _l("CSV (as the bank exports it)"), "camt053": _l("camt.053 XML")})
register(
    "step",
    {
        "edit_draft": _l("Complete the draft (timeline, lots, deposit)"),
        "documents": _l("Add the tender documents"),
        "scoring_scheme": _l("Define the scoring scheme"),
        "custodians": _l("Choose the opening-key custodians"),
        "publish": _l("Publish the notice"),
        "opening": _l("Run the opening and sign its record"),
        "draw": _l("Request the expert draw"),
        "committee": _l("Seat the evaluation committee"),
        "report": _l("The committee signs the evaluation report"),
        "candidates": _l("Publish the candidates"),
        "award": _l("The tenderee decides the award"),
        "contract": _l("Record the contract"),
    },
)
register(
    "hall.stage",
    {
        "waiting": _l("Waiting for the bid deadline"),
        "paused": _l("Paused: an objection to the documents waits for its answer (R-T4)"),
        "due": _l("The deadline has passed: the opening is starting"),
        "decrypting": _l("Bidders are decrypting their bids"),
        "window_closed": _l("The decryption window has closed: the agency closes the opening"),
        "failed": _l("Not opened: fewer than three bids (流标, R-B5)"),
        "closed": _l("The opening is closed and its record signed"),
    },
)
register(
    "hall_attendance.verdict",
    {"confirmed": _l("signed the record"), "objected": _l("objected to the record")},
)
register(
    "audit.action",
    {
        "bidding.hall_signed_in": _l("signed in at the opening hall"),
        "bidding.record_confirmed": _l("signed the opening record"),
        "bidding.record_objected": _l("objected to the opening record"),
    },
)
register(
    "field",
    {
        "fault": _l("Whose fault"),
        "remark": _l("Reason for the objection"),
        "verdict": _l("Your answer to the record"),
        "bid": _l("Bids"),
    },
)

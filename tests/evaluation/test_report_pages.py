"""The signed report's PDF from the pages: the session-authenticated download that the evaluation page
links (the API's report.pdf takes bearer tokens only), under the same rule as the API: the committee and
supervisors, the agency and the tenderee once the report is signed, nobody else (R-V6, R-E4)."""

from core.roles import Role
from tests.bidding.test_notice_pages import browser, text
from tests.evaluation.test_award import signed  # noqa: F401 (fixture)


def test_the_evaluation_page_links_a_report_pdf_that_opens_in_the_browser(
    app,
    people,
    cast,
    signed,  # noqa: F811
):
    tender, _bids = signed
    agency = browser(app, people, cast["agent"])
    page = text(agency.get(f"/evaluation/{tender.id}"))
    pdf_url = f"/evaluation/{tender.id}/report.pdf"
    assert f'href="{pdf_url}"' in page and "/api/v1/" not in page.split('id="report"', 1)[1]
    pdf = agency.get(pdf_url)
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf" and pdf.data.startswith(b"%PDF")
    watcher = browser(app, people, cast["supervisor"])
    assert watcher.get(pdf_url).data.startswith(b"%PDF")
    # A colleague of the agency who is not assigned to the tender, and a bidder: refused, no file.
    colleague = browser(
        app, people, people.user(Role.AGENCY, "agency-colleague", org=cast["agent"].organization)
    )
    bidder = browser(app, people, people.user(Role.TENDERER, "some-bidder"))
    for outsider in (colleague, bidder):
        refused = outsider.get(pdf_url)
        assert refused.status_code in (403, 404) and not refused.data.startswith(b"%PDF")
    assert "/sign-in" in app.test_client().get(pdf_url).headers["Location"]  # a visitor signs in first

"""The supervisor's audit page reads as sentences (issue 13): who did what, in words. A refused sign-in
has no proven actor, so its line names the account that was tried, not as the one who acted."""

from core.roles import Role
from tests.bidding.test_views import sign_in
from tests.factories import PASSWORD


def test_a_refused_sign_in_names_the_account_tried_not_a_culprit(app, client, people, session):
    expert = people.user(Role.EXPERT, "tried-expert")
    expert.display_name = "专家 吴秀英"
    session.commit()
    supervisor = people.user(Role.SUPERVISOR, "reader")
    other = app.test_client()
    other.post("/sign-in", data={"username": "tried-expert", "password": "not-the-password"})
    other.post("/sign-in", data={"username": "nobody-here", "password": "whatever"})
    other.post("/sign-in", data={"username": "tried-expert", "password": PASSWORD})
    other.post("/sign-in/code", data={"code": "000000" if people.code(expert) != "000000" else "111111"})
    sign_in(client, people, supervisor)
    client.post("/lang/en", data={"next": "/audit/"})
    page = client.get("/audit/").get_data(as_text=True)
    assert "someone signing in as 专家 吴秀英</b> was refused: wrong user name or password" in page
    assert "someone signing in as 专家 吴秀英</b> gave a wrong second-factor code" in page
    assert "someone signing in</b> was refused: wrong user name or password" in page
    assert "the platform</b> gave" not in page and "the platform</b> was refused" not in page

"""A short integrator's flow through the Python client generated from /api/openapi.json.

    python3 openapi_client_flow.py BASE_URL USERNAME PASSWORD

Run by .ci/openapi_client.sh with the generated package `nexus_client` on PYTHONPATH. Every step
goes through the generated functions and models, never around them, so that a document that
types an answer wrongly (a page whose results are not `Activity`, a missing status) fails here.
Exits non-zero on the first step that does not do what API.md says.
"""

import datetime
import sys
from http import HTTPStatus

from nexus_client import AuthenticatedClient, Client
from nexus_client.api.activities import (
    activities_create,
    activities_list,
    activities_read,
    activities_update,
)
from nexus_client.api.auth import auth_login, auth_me
from nexus_client.api.chat import chat_messages, chat_send
from nexus_client.api.projects import projects_create
from nexus_client.models import (
    Activity,
    ActivityPatch,
    ActivityStatus,
    ActivityType,
    ConversationQuery,
    ErrorBody,
    ListBodyActivity,
    ListBodyMessage,
    LoginInput,
    Message,
    NewActivity,
    NewMessage,
    NewProject,
    Priority,
    Project,
    TokenBody,
    UserView,
)

BASE, USERNAME, PASSWORD = sys.argv[1:4]


def step(name):
    print(f"-- {name}", flush=True)


def expect(condition, message):
    if not condition:
        raise SystemExit(f"FAILED: {message}")


def ok(response, status, model):
    """The parsed body of `response`, which must have `status` and parse as `model`."""
    expect(
        response.status_code == status,
        f"expected {status}, got {int(response.status_code)}: {response.content[:300]!r}",
    )
    expect(
        isinstance(response.parsed, model),
        f"expected a {model.__name__}, got {type(response.parsed).__name__}",
    )
    return response.parsed


step("sign in")
anonymous = Client(base_url=BASE, raise_on_unexpected_status=True)
tokens = ok(
    auth_login.sync_detailed(
        client=anonymous, body=LoginInput(username=USERNAME, password=PASSWORD)
    ),
    HTTPStatus.OK,
    TokenBody,
)
expect(tokens.token_type == "Bearer", f"token_type {tokens.token_type}")
client = AuthenticatedClient(
    base_url=BASE, token=tokens.access, raise_on_unexpected_status=True
)
me = ok(auth_me.sync_detailed(client=client), HTTPStatus.OK, UserView)
expect(me.username == USERNAME, f"signed in as {me.username}")

step("create an activity")
start = datetime.datetime(2026, 11, 28, 8, 0, tzinfo=datetime.timezone.utc)
created = ok(
    activities_create.sync_detailed(
        client=client,
        body=NewActivity(
            title="Calibrate press 4",
            type_=ActivityType.MAINTENANCE,
            priority=Priority.HIGH,
            start_time=start,
            end_time=start + datetime.timedelta(hours=2),
        ),
    ),
    HTTPStatus.CREATED,
    Activity,
)
expect(created.version == 1, f"a new activity is at version {created.version}")
expect(created.status == ActivityStatus.PLANNED, f"status {created.status}")
expect(created.start_time == start, f"start_time {created.start_time}")

step("read it")
read = ok(
    activities_read.sync_detailed(created.id, client=client), HTTPStatus.OK, Activity
)
expect(read.to_dict() == created.to_dict(), f"read {read} != created {created}")

step("patch it with version")
patched = ok(
    activities_update.sync_detailed(
        created.id,
        client=client,
        body=ActivityPatch(status=ActivityStatus.IN_PROGRESS, version=created.version),
    ),
    HTTPStatus.OK,
    Activity,
)
expect(patched.status == ActivityStatus.IN_PROGRESS, f"status {patched.status}")
expect(patched.version == created.version + 1, f"version {patched.version}")

step("a stale version is a 409")
stale = activities_update.sync_detailed(
    created.id,
    client=client,
    body=ActivityPatch(title="Calibrate press 4 again", version=created.version),
)
error = ok(stale, HTTPStatus.CONFLICT, ErrorBody)
expect(error.error.code == "conflict", f"code {error.error.code}")
unchanged = ok(
    activities_read.sync_detailed(created.id, client=client), HTTPStatus.OK, Activity
)
expect(unchanged.title == "Calibrate press 4", f"a stale patch changed the title: {unchanged.title}")

step("list and filter")
for n in range(5):
    ok(
        activities_create.sync_detailed(
            client=client,
            body=NewActivity(title=f"Safety walk {n}", type_=ActivityType.SAFETY),
        ),
        HTTPStatus.CREATED,
        Activity,
    )
in_progress = ok(
    activities_list.sync_detailed(client=client, status=ActivityStatus.IN_PROGRESS),
    HTTPStatus.OK,
    ListBodyActivity,
)
expect(
    [a.id for a in in_progress.results] == [created.id],
    f"status=in_progress lists {[a.id for a in in_progress.results]}",
)
expect(
    all(isinstance(a, Activity) for a in in_progress.results),
    "a page's results are not typed Activity",
)
since = ok(
    activities_list.sync_detailed(
        client=client, start_after=start - datetime.timedelta(minutes=1)
    ),
    HTTPStatus.OK,
    ListBodyActivity,
)
expect([a.id for a in since.results] == [created.id], "start_after finds the timed activity")

step("page through a list")
seen, page, pages = [], 1, 0
while True:
    listed = ok(
        activities_list.sync_detailed(
            client=client,
            type_=ActivityType.SAFETY,
            ordering="created_at",
            page=page,
            page_size=2,
        ),
        HTTPStatus.OK,
        ListBodyActivity,
    )
    expect(listed.count == 5, f"count {listed.count}")
    expect(len(listed.results) <= 2, f"page of {len(listed.results)}")
    seen += [a.title for a in listed.results]
    pages += 1
    if listed.next_ is None:
        break
    expect(f"page={page + 1}" in listed.next_, f"next {listed.next_}")
    page += 1
expect(pages == 3, f"{pages} pages of 2 for 5 activities")
expect(seen == [f"Safety walk {n}" for n in range(5)], f"paged through {seen}")

step("a project room: send, then list the conversation")
project = ok(
    projects_create.sync_detailed(client=client, body=NewProject(name="Line 4 retrofit")),
    HTTPStatus.CREATED,
    Project,
)
sent = ok(
    chat_send.sync_detailed(
        client=client, body=NewMessage(content="Kick-off on Monday.", project_id=project.id)
    ),
    HTTPStatus.CREATED,
    Message,
)
room = ok(
    chat_messages.sync_detailed(client=client, conversation=ConversationQuery(project=project.id)),
    HTTPStatus.OK,
    ListBodyMessage,
)
expect([m.id for m in room.results] == [sent.id], f"the room lists {room.results}")

print("OK: the generated client signs in, creates, reads, patches, conflicts, filters, pages and chats")

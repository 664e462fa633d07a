"""Table definitions of the catalyst store (SQLAlchemy Core).

Every row carries ``hub`` so several hubs' services can share one database. Only
``identities`` holds usernames; every other table names people by their keyed member id.
Alembic migrations in ``migrations/`` create and change these tables; keep both in step.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
)

metadata = MetaData()

HUB = 64
MEMBER = 64
NAME = 255

identities = Table(
    "identities",
    metadata,
    Column("hub", String(HUB), primary_key=True),
    Column("username", String(NAME), primary_key=True),
    Column("member_id", String(MEMBER), nullable=False, unique=True),
    Column("created", DateTime, nullable=False),
)

# The event log: the one source of truth. Projections below are derived from it. An event id
# is unique per member: keyed by member first, one sender's batch writes neighbouring pages.
# Reports never read it; rebuilds read it in key order, retention purges member by member.
events = Table(
    "events",
    metadata,
    Column("id", String(36), nullable=False),
    Column("hub", String(HUB), nullable=False),
    Column("member_id", String(MEMBER), nullable=False),
    Column("community", String(NAME), nullable=False),
    Column("schema", String(64), nullable=False),
    Column("version", Integer, nullable=False),
    Column("time", DateTime, nullable=False),
    Column("received", DateTime, nullable=False),
    Column("payload", JSON, nullable=False),
    PrimaryKeyConstraint("hub", "member_id", "id", name="events_pkey"),
    # per member too: a batch (one member's) adds to one place of it, where an index of all
    # members' times took a page per event when backlogs of the same hours arrive together
    Index("ix_events_hub_member_time", "hub", "member_id", "time"),
)

members = Table(
    "members",
    metadata,
    Column("hub", String(HUB), primary_key=True),
    Column("member_id", String(MEMBER), primary_key=True),
    Column("community", String(NAME), nullable=False),
    Column("first_seen", DateTime, nullable=False),
    Column("last_active", DateTime, nullable=False),
    Column("consent", String(16)),
    Column("consent_version", String(64)),
    Column("consent_time", DateTime),
    # when the member reached the last step of their community's checklist (NULL: not every
    # step yet); kept by the projector from member_steps, see ``activation_checklists``
    Column("activated", DateTime),
    # covering for reports: members of a community, newcomers of a period
    Index("ix_members_hub_community_first_seen", "hub", "community", "first_seen", "member_id"),
    # covering for reports: activated members of a community, and when, and since when seen
    Index(
        "ix_members_hub_community_activated",
        "hub",
        "community",
        "activated",
        "first_seen",
        "member_id",
    ),
)

member_steps = Table(
    "member_steps",
    metadata,
    Column("hub", String(HUB), primary_key=True),
    Column("member_id", String(MEMBER), primary_key=True),
    Column("step", String(64), primary_key=True),
    # the member's community, as in ``members`` (the projector keeps them equal)
    Column("community", String(NAME), nullable=False),
    Column("reached", DateTime, nullable=False),
    # members per community and step (the metrics), from the index alone
    Index("ix_member_steps_hub_community", "hub", "community", "step"),
    # covering for reports: when each member reached their checklist steps
    Index("ix_member_steps_hub_member_step_reached", "hub", "member_id", "step", "reached"),
)

daily_activity = Table(
    "daily_activity",
    metadata,
    Column("hub", String(HUB), primary_key=True),
    Column("member_id", String(MEMBER), primary_key=True),
    Column("day", Date, primary_key=True),
    Column("community", String(NAME), nullable=False),
    Column("events", Integer, nullable=False),
    Column("seconds", Integer, nullable=False),
    # covering for reports: distinct active members of a community over a range of days
    Index("ix_daily_activity_hub_community_day_member", "hub", "community", "day", "member_id"),
)

training_progress = Table(
    "training_progress",
    metadata,
    Column("hub", String(HUB), primary_key=True),
    Column("member_id", String(MEMBER), primary_key=True),
    Column("lesson", String(64), primary_key=True),
    Column("episode", String(64), primary_key=True),
    Column("community", String(NAME), nullable=False),
    Column("exercises_done", Integer, nullable=False),
    Column("first_activity", DateTime, nullable=False),
    Column("completed", DateTime),
    Column("source", String(16)),
    Column("signed_off_by", String(MEMBER)),
    # covering for reports: learners and episodes per community
    Index(
        "ix_training_progress_hub_community_member", "hub", "community", "member_id", "completed"
    ),
)

exercise_completions = Table(
    "exercise_completions",
    metadata,
    Column("hub", String(HUB), primary_key=True),
    Column("member_id", String(MEMBER), primary_key=True),
    Column("lesson", String(64), primary_key=True),
    Column("episode", String(64), primary_key=True),
    Column("exercise", String(64), primary_key=True),
    Column("completed", DateTime, nullable=False),
)

server_sessions = Table(
    "server_sessions",
    metadata,
    Column("hub", String(HUB), primary_key=True),
    Column("member_id", String(MEMBER), primary_key=True),
    Column("server_name", String(NAME), primary_key=True),
    Column("started", DateTime, primary_key=True),
    Column("community", String(NAME), nullable=False),
    Column("stopped", DateTime),
    Column("last_activity", DateTime),
    # when the session ended as far as the log tells, kept by the projector from the
    # server's sessions: the stop, but no later than the last activity (or start) plus the
    # hub's idle-cull timeout, nor the server's next start (one session at a time)
    Column("ended", DateTime),
    Column("profile", String(NAME)),
    Column("environment", String(NAME)),
    Column("size", String(NAME)),
    # covering for the overview and usage: sessions, server-hours, who, and which environment,
    # profile and size, per community and period
    Index(
        "ix_server_sessions_hub_community_started_kind",
        "hub",
        "community",
        "started",
        "member_id",
        "ended",
        "environment",
        "profile",
        "size",
    ),
)

# Time per app (JupyterLab, RStudio or another app behind jupyter-server-proxy, terminal)
# per member and day, from the server extension's activity windows.
app_activity = Table(
    "app_activity",
    metadata,
    Column("hub", String(HUB), primary_key=True),
    Column("member_id", String(MEMBER), primary_key=True),
    Column("day", Date, primary_key=True),
    Column("app", String(64), primary_key=True),
    Column("community", String(NAME), nullable=False),
    Column("events", Integer, nullable=False),
    Column("seconds", Integer, nullable=False),
    # covering for the usage report: time, members and active days per app of a community
    Index(
        "ix_app_activity_hub_community_day_app",
        "hub",
        "community",
        "day",
        "app",
        "member_id",
        "seconds",
    ),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("hub", String(HUB), nullable=False),
    Column("time", DateTime, nullable=False),
    Column("actor", String(MEMBER), nullable=False),
    Column("action", String(64), nullable=False),
    Column("community", String(NAME)),
    Column("subject", String(MEMBER)),
    Column("detail", Text),
    Index("ix_audit_log_hub_time", "hub", "time"),
)

#: Tables derived from the event log; ``catalyst-hub rebuild`` empties and refills them.
PROJECTION_TABLES = (
    members,
    member_steps,
    daily_activity,
    training_progress,
    exercise_completions,
    server_sessions,
    app_activity,
)

#: Per projection table, the column holding the earliest event time a row depends on (the
#: merges are minima of it). After a purge, a row whose value is older than the horizon
#: depends on deleted events: ``rebuild`` keeps it rather than recomputing it.
HORIZON_COLUMNS = {
    members.name: members.c.first_seen,
    member_steps.name: member_steps.c.reached,
    daily_activity.name: daily_activity.c.day,
    training_progress.name: training_progress.c.first_activity,
    exercise_completions.name: exercise_completions.c.completed,
    server_sessions.name: server_sessions.c.started,
    app_activity.name: app_activity.c.day,
}

# The retention horizon of each hub: raw events before it were deleted (all but consent
# decisions), so projections before it can no longer be recomputed from the log.
retention_horizons = Table(
    "retention_horizons",
    metadata,
    Column("hub", String(HUB), primary_key=True),
    # midnight UTC: events before it are gone, daily totals before it are complete
    Column("horizon", DateTime, nullable=False),
    Column("updated", DateTime, nullable=False),
)

# Erasure tombstones: a member who erased their data. Until they accept the notice again
# (``accepted``) nothing of theirs is recorded; and nothing dated before the erasure ever is.
# Every writer (collector, ingest, pages, the identity table) consults it first, so an erased
# person is not recorded again by someone else's poll or a late delivery. Keyed by member id
# only, never a username; erasure writes the row in the transaction that deletes the rest.
member_erasures = Table(
    "member_erasures",
    metadata,
    Column("hub", String(HUB), primary_key=True),
    Column("member_id", String(MEMBER), primary_key=True),
    Column("erased", DateTime, nullable=False),
    Column("accepted", DateTime),
)

# The checklists (community -> step ids, as JSON) that each hub's ``members.activated`` was
# computed with. A service whose catalog gives other checklists (or a database migrated from
# before the column, which has no row) recomputes the column from member_steps on start.
activation_checklists = Table(
    "activation_checklists",
    metadata,
    Column("hub", String(HUB), primary_key=True),
    Column("checklists", Text, nullable=False),
    Column("updated", DateTime, nullable=False),
)

# The time zone (IANA name) each hub's daily projections were built in: their days are
# calendar days there (``c.CatalystApp.timezone``). A service configured with another zone
# refuses to start until ``catalyst-hub rebuild`` has rebuilt them in it.
projection_zones = Table(
    "projection_zones",
    metadata,
    Column("hub", String(HUB), primary_key=True),
    Column("timezone", String(64), nullable=False),
    Column("updated", DateTime, nullable=False),
)

# -- training cohorts (written by training leads through the service, not projections) ---------

cohorts = Table(
    "cohorts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("hub", String(HUB), nullable=False),
    Column("community", String(NAME), nullable=False),
    Column("name", String(NAME), nullable=False),
    Column("language", String(16), nullable=False),
    Column("starts", Date),
    Column("ends", Date),
    # lesson ids of the catalog, in the order the cohort takes them
    Column("lessons", JSON, nullable=False),
    Column("created", DateTime, nullable=False),
    Column("created_by", String(MEMBER), nullable=False),
    Column("updated", DateTime, nullable=False),
    Index("ix_cohorts_hub_community", "hub", "community"),
)

cohort_members = Table(
    "cohort_members",
    metadata,
    Column("hub", String(HUB), primary_key=True),
    Column("cohort_id", Integer, primary_key=True),
    Column("member_id", String(MEMBER), primary_key=True),
    Column("added", DateTime, nullable=False),
    Column("added_by", String(MEMBER), nullable=False),
    Index("ix_cohort_members_hub_member", "hub", "member_id"),
)

# -- Open Badges (issued by the service when a learner meets a lesson's or a path's badge rule) --

# One row per badge earned: the signed OpenBadgeCredential (JSON text). Unclaimed, it says
# nothing about the learner; at claim it is signed again with the identity they chose. A
# per-member table: exported with the member's data, deleted by their erasure. ``lesson`` is
# the badge's catalog key: a lesson id, or ``path:<program id>`` for a training path's badge.
badges = Table(
    "badges",
    metadata,
    Column("hub", String(HUB), primary_key=True),
    Column("id", String(36), primary_key=True),
    Column("member_id", String(MEMBER), nullable=False),
    Column("community", String(NAME), nullable=False),
    Column("lesson", String(64), nullable=False),
    Column("status_index", Integer, nullable=False),
    Column("issued", DateTime, nullable=False),
    Column("claimed", DateTime),
    Column("credential", Text, nullable=False),
    Index("ix_badges_hub_member_lesson", "hub", "member_id", "lesson", unique=True),
    Index("ix_badges_hub_community_lesson", "hub", "community", "lesson"),
)

# The revocation list: one row per status index ever given to a badge, with no member id,
# so an erasure (which deletes the badge) neither frees the index nor un-revokes it.
badge_status = Table(
    "badge_status",
    metadata,
    Column("hub", String(HUB), primary_key=True),
    Column("status_index", Integer, primary_key=True),
    Column("revoked", DateTime),
    Column("reason", String(NAME)),
)

# The consortium publisher's durable queue (``service/publisher.py``): the months of
# summaries this hub still has to send, each with the document as it was when queued (so a
# restart sends exactly that, and a newer version replaces it before it is sent), and the
# attempts and last error of its sending. One row per month: a late event re-queues its month.
consortium_outbox = Table(
    "consortium_outbox",
    metadata,
    Column("hub", String(HUB), primary_key=True),
    Column("month", Date, primary_key=True),
    Column("sequence", BigInteger, nullable=False),
    Column("fingerprint", String(64), nullable=False),
    Column("document", Text, nullable=False),
    Column("queued", DateTime, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("next_attempt", DateTime, nullable=False),
    Column("last_error", Text),
)

# What the consortium acknowledged, per month: the fingerprint of its figures (a month is
# queued again only when its figures change) and the last day it covered.
consortium_published = Table(
    "consortium_published",
    metadata,
    Column("hub", String(HUB), primary_key=True),
    Column("month", Date, primary_key=True),
    Column("sequence", BigInteger, nullable=False),
    Column("fingerprint", String(64), nullable=False),
    Column("through", Date, nullable=False),
    Column("provisional", Boolean, nullable=False),
    Column("published", DateTime, nullable=False),
)

# The publisher's state: the last sequence number used (versions only grow, so the
# consortium keeps the latest), the last success and the last error, for the hub's admin.
consortium_state = Table(
    "consortium_state",
    metadata,
    Column("hub", String(HUB), primary_key=True),
    Column("sequence", BigInteger, nullable=False),
    Column("last_success", DateTime),
    Column("last_error", Text),
    Column("last_error_time", DateTime),
)

# A community's champion's choice of a public page on the consortium (the hub's
# ``consortium_public_communities`` setting holds for communities without a choice): the
# publisher sends it in the summary's ``public`` flag. Who chose it: a keyed member id.
consortium_public_pages = Table(
    "consortium_public_pages",
    metadata,
    Column("hub", String(HUB), primary_key=True),
    Column("community", String(NAME), primary_key=True),
    Column("public", Boolean, nullable=False),
    Column("changed", DateTime, nullable=False),
    Column("changed_by", String(MEMBER), nullable=False),
)

# What the versions of each month's summary did with its counts of people: per community and
# figure (``reports.summary.cell_key``), each value it had in a version and whether one showed
# it. The open month is sent again and again, and someone who reads the consortium at two
# times can take the difference of two versions: a new version hides a count that differs by
# 1 to k-1 from a value shown before, and a value hidden before stays hidden. Counts only,
# of communities: nothing here is a member's.
consortium_versions = Table(
    "consortium_versions",
    metadata,
    Column("hub", String(HUB), primary_key=True),
    Column("community", String(NAME), primary_key=True),
    Column("month", Date, primary_key=True),
    Column("figure", String(NAME), primary_key=True),
    Column("value", Integer, primary_key=True),
    Column("shown", Boolean, nullable=False),
)

# -- xAPI forwarding (the forwarder's own state, not projections) -----------------------------

# Statements an LRS acknowledged, by keyed statement id. Per member: an erasure deletes the
# member's rows with the rest (and nothing of theirs is built again to be sent).
xapi_sent = Table(
    "xapi_sent",
    metadata,
    Column("hub", String(HUB), primary_key=True),
    Column("member_id", String(MEMBER), primary_key=True),
    Column("statement_id", String(36), primary_key=True),
    Column("sent", DateTime, nullable=False),
)

# The forwarder's progress per hub, for the admin (``api/xapi/forwarder``).
xapi_forwarder = Table(
    "xapi_forwarder",
    metadata,
    Column("hub", String(HUB), primary_key=True),
    Column("lrs_url", String(2048), nullable=False),
    Column("sent_total", Integer, nullable=False),
    Column("conflicts", Integer, nullable=False),
    Column("failures", Integer, nullable=False),
    Column("pending", Integer, nullable=False),
    Column("last_attempt", DateTime),
    Column("last_success", DateTime),
    Column("last_error", Text),
    Column("last_error_time", DateTime),
)

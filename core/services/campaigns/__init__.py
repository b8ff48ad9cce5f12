"""Campaigns: planning, templates, the responsibility sheet, the calendar and the results.

The map (each module one subject; a module imports only those above it in this list):

- `errors`    — `CampaignError` (a `core.errors.AppError`, `campaigns.error.*` keys).
- `access`    — who may do what: admins and marketers write; executives read.
- `plan`      — the campaigns themselves: plan, change, list (with task counts), pickers; the
                checks of a campaign form and the filters the other modules share.
- `tasks`     — the responsibility sheet (seed 004 step 6) and the overdue lines.
- `templates` — linked campaign series with their tasks (free-clinic trilogy, lectures, spring).
- `schedule`  — the calendar: timeline bars, channel overlaps, campaigns per channel and week.
- `results`   — what a campaign's attributed leads became: stages, orders, revenue, ratios.

A campaign (SPEC §5 types) has an owner, dates, channels, a budget, a lead target, a status
and a PDCA record; templates create linked campaigns (`linked_campaign_id` points to the
campaign a step follows). Results use core.metrics' definitions (valid orders, revenue) as SQL
aggregates. Every write is audited. The content library is its own service
(`core.services.content`). Callers use the package (`from core.services import campaigns`):
it re-exports the public API below.
"""

from __future__ import annotations

from core.services.campaigns.access import READERS
from core.services.campaigns.errors import CampaignError
from core.services.campaigns.plan import (
    CAMPAIGN_COLUMNS,
    CAMPAIGN_FIELDS,
    CENT,
    TEXT_FIELDS,
    campaign_choices,
    create_campaign,
    default_as_of,
    get_campaign,
    list_campaigns,
    owner_choices,
    staff_choices,
    update_campaign,
)
from core.services.campaigns.results import (
    DERIVED_COLUMNS,
    RESULT_COLUMNS,
    campaign_results,
    results_summary,
)
from core.services.campaigns.schedule import (
    CALENDAR_COLUMNS,
    calendar_items,
    channel_overlaps,
    channel_weeks,
)
from core.services.campaigns.tasks import (
    TASK_COLUMNS,
    TASK_FIELDS,
    add_task,
    delete_task,
    list_tasks,
    overdue_tasks,
    update_task,
)
from core.services.campaigns.templates import (
    CONFERENCE_GAP_DAYS,
    FOLLOWUP_DAYS,
    FOLLOWUP_GAP_DAYS,
    SEASONAL_DAYS,
    TEMPLATE_PREFIX,
    TEMPLATES,
    WARMUP_DAYS,
    create_from_template,
)

__all__ = [
    "CALENDAR_COLUMNS",
    "CAMPAIGN_COLUMNS",
    "CAMPAIGN_FIELDS",
    "CENT",
    "CONFERENCE_GAP_DAYS",
    "DERIVED_COLUMNS",
    "FOLLOWUP_DAYS",
    "FOLLOWUP_GAP_DAYS",
    "READERS",
    "RESULT_COLUMNS",
    "SEASONAL_DAYS",
    "TASK_COLUMNS",
    "TASK_FIELDS",
    "TEMPLATES",
    "TEMPLATE_PREFIX",
    "TEXT_FIELDS",
    "WARMUP_DAYS",
    "CampaignError",
    "add_task",
    "calendar_items",
    "campaign_choices",
    "campaign_results",
    "channel_overlaps",
    "channel_weeks",
    "create_campaign",
    "create_from_template",
    "default_as_of",
    "delete_task",
    "get_campaign",
    "list_campaigns",
    "list_tasks",
    "overdue_tasks",
    "owner_choices",
    "results_summary",
    "staff_choices",
    "update_campaign",
    "update_task",
]

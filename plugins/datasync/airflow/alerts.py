"""Alert e-mails in place of the seed's SLA-miss mails (Airflow 3 has no SLAs).

Three kinds, all sent through the SMTP connection ``Alerts.SmtpConnId`` to the
table's ``AlertEmails`` plus ``Alerts.Emails``:

- deadline misses: a Deadline Alert on every sync DAG (reference: the time the
  run was queued; interval: the table's ``DeadlineMinutes``, else
  ``Alerts.DeadlineMinutes``, else derived from the schedule's interval). The
  scheduler detects the miss, the triggerer sends the mail (both must run);
- task failures: an ``on_failure_callback`` on every task (after the last try), one
  mail per failing streak where runs repeat: a sync run the dispatcher marks as a
  backoff retry stays silent, and so does a housekeeping task (dispatcher, recovery,
  purge) whose previous run failed too;
- health: the health DAG mails when the cache is Degraded or Unhealthy.

Without recipients nothing is attached. Nothing here opens a connection while
DAGs are parsed.
"""

from __future__ import annotations

import copy
import html
import logging
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from datasync.config import DataSourceConfig, DataSyncConfig
from datasync.core.types import HealthStatus

if TYPE_CHECKING:
    from datasync.engine.health import HealthReport

log = logging.getLogger(__name__)

DEADLINE_FLOOR_MINUTES = 10
"""A derived deadline is never shorter than this (a short schedule still needs time to queue)."""
DEADLINE_CAP_MINUTES = 12 * 60
"""A derived deadline is never longer than this (a weekly Mass should not be silent for a week)."""


def recipients(config: DataSyncConfig, table: DataSourceConfig | None = None) -> list[str]:
    """The table's AlertEmails then Alerts.Emails, without duplicates, in order."""
    out: list[str] = []
    for address in [*(table.alert_emails if table else []), *config.alerts.emails]:
        if address and address.lower() not in (a.lower() for a in out):
            out.append(address)
    return out


def deadline_minutes(config: DataSyncConfig, table: DataSourceConfig, sync_type: str) -> int:
    """Table DeadlineMinutes, else Alerts.DeadlineMinutes, else the interval within [floor, cap]."""
    if table.deadline_minutes:
        return table.deadline_minutes
    if config.alerts.deadline_minutes:
        return config.alerts.deadline_minutes
    interval = table.schedule(sync_type).interval_minutes
    return max(DEADLINE_FLOOR_MINUTES, min(interval, DEADLINE_CAP_MINUTES))


def deadline_alert(config: DataSyncConfig, table: DataSourceConfig, sync_type: str, dag_id: str) -> Any:
    """A DeadlineAlert that mails when a run is not done ``deadline_minutes`` after it was queued.

    None when no recipient is configured.
    """
    to = recipients(config, table)
    if not to:
        return None
    from airflow.providers.smtp.notifications.smtp import SmtpNotifier
    from airflow.sdk import AsyncCallback, DeadlineAlert, DeadlineReference

    minutes = deadline_minutes(config, table, sync_type)
    name = html.escape(table.table_name)
    subject = f"[datasync] {table.table_name} {sync_type} sync missed its {minutes} min deadline"
    body = (
        f"<p>The {sync_type} sync of table <b>{name}</b> (DAG <code>{html.escape(dag_id)}</code>) "
        f"was not finished {minutes} minutes after its run was queued.</p>"
        "<p>Run: <code>{{ dag_run.dag_run_id }}</code>, queued at {{ dag_run.queued_at }}, "
        "state {{ dag_run.state }}.</p>"
        "<p>Check the pool <code>"
        f"{html.escape(config.pool_name)}</code>, the task log and <code>datasync health</code>.</p>"
    )
    return DeadlineAlert(
        reference=DeadlineReference.DAGRUN_QUEUED_AT,
        interval=timedelta(minutes=minutes),
        callback=AsyncCallback(
            SmtpNotifier,
            kwargs={
                "to": to,
                "from_email": config.alerts.from_email,
                "subject": subject,
                "html_content": body,
                "smtp_conn_id": config.alerts.smtp_conn_id,
            },
        ),
    )


def failure_callback(config: DataSyncConfig, table: DataSourceConfig | None, what: str) -> Any:
    """An on_failure_callback mailing that ``what`` (e.g. 'WorkOrder_Curr Hourly sync') failed.

    None when failure mails are off or no recipient is configured.
    """
    to = recipients(config, table)
    if not to or not config.alerts.email_on_failure:
        return None
    from airflow.providers.smtp.notifications.smtp import SmtpNotifier

    label = html.escape(what)
    return SmtpNotifier(
        to=to,
        from_email=config.alerts.from_email,
        smtp_conn_id=config.alerts.smtp_conn_id,
        subject=f"[datasync] {what} failed" + " ({{ ti.dag_id }}, try {{ ti.try_number }})",
        html_content=(
            f"<p><b>{label}</b> failed after its last try.</p>"
            "<p>DAG <code>{{ ti.dag_id }}</code>, task <code>{{ ti.task_id }}</code>, "
            "run <code>{{ run_id }}</code>, try {{ ti.try_number }}.</p>"
            "<pre>{{ (exception if exception is defined else '') | string | e }}</pre>"
        ),
    )


class SilencedFailureMail:
    """An on_failure_callback that sends ``notifier``'s mail unless ``silent(context)`` says it was already alerted.

    Each mail is sent from a copy: a notifier renders its templates into itself, and one
    process may run several callbacks (dag.test, a DAG processor), which would otherwise
    all carry the first one's text.
    """

    def __init__(self, notifier: Any):
        self.notifier = notifier

    def silent(self, context: Any) -> bool:
        raise NotImplementedError

    def __call__(self, context: Any) -> Any:
        if self.silent(context):
            return None
        return copy.deepcopy(self.notifier)(context)


class UnlessRetryOfAFailure(SilencedFailureMail):
    """Mails the first failure of a type, not each backoff retry after it.

    The dispatcher marks a run that retries a failing type (conf ``retry`` > 0); its
    failure was already mailed, and health says Unhealthy until the type succeeds.
    """

    def silent(self, context: Any) -> bool:
        conf = getattr(context.get("dag_run"), "conf", None) or {}
        return int(conf.get("retry") or 0) > 0


def once_per_failing_streak(notifier: Any) -> Any:
    return None if notifier is None else UnlessRetryOfAFailure(notifier)


class UnlessStillFailing(SilencedFailureMail):
    """Mails when a task starts failing, not each run while it keeps failing.

    For the scheduled housekeeping tasks (the dispatcher fires every CheckInterval, so a
    dispatcher that keeps failing would mail every few minutes). The "already alerted" state
    is the task's own history in Airflow's metadata DB: the same task in the DAG's previous
    run (by logical date) failed, so that failure was mailed (or silenced because the one
    before failed). That holds across restarts and any number of schedulers and workers.
    The first failure after a success mails again. When the history cannot be read (a run
    without logical date, a callback run outside a task process) it mails.
    """

    def silent(self, context: Any) -> bool:
        if previous_run_failed(context):
            log.info("%s failed again: no mail (its previous run failed and was alerted)", _task_label(context))
            return True
        return False


def previous_run_failed(context: Any) -> bool:
    """Whether this task failed in the DAG's previous run (False when that cannot be told)."""
    ti = context.get("ti")
    if ti is None or not getattr(context.get("dag_run"), "logical_date", None):
        return False
    try:
        previous = ti.get_previous_ti()
    except Exception:  # noqa: BLE001 - no history at hand: mail rather than stay silent
        log.warning("cannot read the previous run of %s; mailing the failure", _task_label(context), exc_info=True)
        return False
    return previous is not None and str(previous.state) == "failed"


def _task_label(context: Any) -> str:
    ti = context.get("ti")
    return f"{getattr(ti, 'dag_id', '?')}.{getattr(ti, 'task_id', '?')}"


def housekeeping_failure_callback(config: DataSyncConfig, what: str) -> Any:
    """failure_callback for a scheduled housekeeping task: one mail per failing streak (UnlessStillFailing)."""
    notifier = failure_callback(config, None, what)
    return None if notifier is None else UnlessStillFailing(notifier)


class UnlessHealthVerdict(SilencedFailureMail):
    """Stays silent when the failure is the health run's Unhealthy verdict.

    That verdict is already alerted by the health mail, once per change; a crash of
    the health task itself still mails.
    """

    def silent(self, context: Any) -> bool:
        return bool(getattr(context.get("exception"), "datasync_health_verdict", False))


def health_failure_callback(config: DataSyncConfig) -> Any:
    notifier = failure_callback(config, None, "datasync health")
    return None if notifier is None else UnlessHealthVerdict(notifier)


def health_mail(config: DataSyncConfig, report: HealthReport) -> tuple[list[str], str, str]:
    """(recipients, subject, html body) of the mail about a Degraded or Unhealthy report."""
    bad = report.unhealthy_tables
    to: list[str] = []
    for t in bad:
        try:
            table_cfg = config.table(t.table)
        except Exception:  # noqa: BLE001 - a table no longer configured still gets reported
            table_cfg = None
        for address in recipients(config, table_cfg):
            if address not in to:
                to.append(address)
    names = ", ".join(t.table for t in bad)
    subject = f"[datasync] cache {report.status}: {names}"
    rows = "".join(
        f"<tr><td>{html.escape(t.table)}</td><td>{t.status}</td>"
        f"<td>{t.last_sync.isoformat() if t.last_sync else 'never'}</td>"
        f"<td>{'<br>'.join(html.escape(p) for p in t.problems)}</td></tr>"
        for t in bad
    )
    body = (
        f"<p>datasync health at {report.checked_at.isoformat()}: <b>{report.status}</b>.</p>"
        "<table border='1' cellpadding='4'><tr><th>table</th><th>status</th><th>last sync (UTC)</th>"
        f"<th>problems</th></tr>{rows}</table>"
    )
    return to, subject, body


def send_health_mail(config: DataSyncConfig, report: HealthReport) -> list[str]:
    """Mail a Degraded/Unhealthy report; return the recipients (empty: nothing sent)."""
    if report.status == HealthStatus.HEALTHY:
        return []
    to, subject, body = health_mail(config, report)
    if not to:
        log.warning("health is %s but no alert recipients are configured", report.status)
        return []
    from airflow.providers.smtp.hooks.smtp import SmtpHook

    with SmtpHook(smtp_conn_id=config.alerts.smtp_conn_id) as hook:
        hook.send_email_smtp(to=to, from_email=config.alerts.from_email, subject=subject, html_content=body)
    return to

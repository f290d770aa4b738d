-- 0013_alert: alert rules, alert history and the webhook outbox of the alert service.
--
-- Base file: runs on plain PostgreSQL and on TimescaleDB, whole file in one
-- transaction (rules: README.md in this folder). No TimescaleDB companion: these
-- tables are small and updated in place (rules, outbox), not time series.
--
-- alert_history and alert_outbox are written by the alert service's sink with
-- INSERT ... ON CONFLICT DO NOTHING, keyed by the notification's idempotency key
-- (fingerprint:starts_at:status:reminder[:suppressed]), so a replayed batch adds
-- nothing. The webhook delivery worker is the only writer of the outbox's
-- delivery columns.

CREATE TABLE alert_rules (
    id          text        NOT NULL,
    rule        jsonb       NOT NULL,
    enabled     boolean     NOT NULL,
    version     bigint      NOT NULL CHECK (version >= 1),
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    updated_by  text        NOT NULL DEFAULT '',
    CONSTRAINT alert_rules_pkey PRIMARY KEY (id)
);
COMMENT ON TABLE alert_rules IS 'User alert rules, managed through the rules REST API; every change is also published to alert.rules.v1.';
COMMENT ON COLUMN alert_rules.rule IS 'The rule object exactly as the API accepts and returns it (schemas/alert.py AlertRule).';
COMMENT ON COLUMN alert_rules.version IS 'Increases with every change; carried on alert.rules.v1.';

CREATE TABLE alert_history (
    idempotency_key   text        NOT NULL,
    fingerprint       text        NOT NULL,
    status            text        NOT NULL CHECK (status IN ('firing', 'resolved')),
    rule_id           text        NOT NULL,
    rule_name         text        NOT NULL,
    severity          text        NOT NULL,
    labels            jsonb       NOT NULL,
    metric            text        NOT NULL,
    condition         text        NOT NULL,
    threshold         numeric     NOT NULL,
    value             numeric,
    starts_at         timestamptz NOT NULL,
    ends_at           timestamptz,
    event_ts          timestamptz NOT NULL,
    starts_at_ns      bigint      NOT NULL,
    event_ts_ns       bigint      NOT NULL,
    reminder          integer     NOT NULL CHECK (reminder >= 0),
    summary           text        NOT NULL,
    reason            text        NOT NULL,
    suppressed        text        NOT NULL,
    source_topic      text        NOT NULL,
    source_partition  integer     NOT NULL,
    source_offset     bigint      NOT NULL,
    CONSTRAINT alert_history_pkey PRIMARY KEY (idempotency_key)
);
CREATE INDEX alert_history_episode_idx ON alert_history (fingerprint, starts_at_ns, status);
CREATE INDEX alert_history_event_ts_idx ON alert_history (event_ts DESC);
CREATE INDEX alert_history_rule_idx ON alert_history (rule_id, event_ts DESC);
COMMENT ON TABLE alert_history IS 'Every notification on alerts.v1: firing (first and reminders) and resolved, suppressed ones included.';
COMMENT ON COLUMN alert_history.starts_at IS 'When the alert started firing (exchange time).';
COMMENT ON COLUMN alert_history.ends_at IS 'When it resolved (resolved rows only).';
COMMENT ON COLUMN alert_history.event_ts IS 'Exchange time of this notification.';
COMMENT ON COLUMN alert_history.suppressed IS 'Why it was not delivered (inhibited, snoozed); empty when delivered.';
COMMENT ON COLUMN alert_history.source_offset IS 'Offset of the input record whose processing produced it (restart bookkeeping).';

-- One row per alert episode: when it started and ended, its first value and labels.
CREATE VIEW alert_episodes AS
SELECT fingerprint,
       min(rule_id)                                              AS rule_id,
       min(starts_at)                                            AS starts_at,
       max(ends_at)                                              AS ends_at,
       (array_agg(value ORDER BY event_ts_ns, reminder))[1]      AS value,
       (array_agg(labels ORDER BY event_ts_ns, reminder))[1]     AS labels,
       (array_agg(status ORDER BY event_ts_ns DESC, status = 'resolved' DESC))[1] AS last_status,
       max(reminder)                                             AS reminders,
       bool_and(suppressed <> '')                                AS suppressed
FROM alert_history
GROUP BY fingerprint, starts_at_ns;
COMMENT ON VIEW alert_episodes IS 'Alert history by episode: starts_at, ends_at (NULL while firing), first value, labels.';

CREATE TABLE alert_outbox (
    idempotency_key   text        NOT NULL,
    webhook           text        NOT NULL,
    payload           jsonb       NOT NULL,
    event_ts          timestamptz NOT NULL,
    created_at        timestamptz NOT NULL DEFAULT now(),
    attempts          integer     NOT NULL DEFAULT 0,
    next_attempt_at   timestamptz NOT NULL DEFAULT now(),
    delivered_at      timestamptz,
    gave_up_at        timestamptz,
    last_error        text        NOT NULL DEFAULT '',
    CONSTRAINT alert_outbox_pkey PRIMARY KEY (idempotency_key, webhook)
);
CREATE INDEX alert_outbox_due_idx ON alert_outbox (next_attempt_at)
    WHERE delivered_at IS NULL AND gave_up_at IS NULL;
COMMENT ON TABLE alert_outbox IS 'Webhook deliveries of delivered (not suppressed) notifications; rows stay until delivered or given up.';
COMMENT ON COLUMN alert_outbox.webhook IS 'Name of the target in PERPWATCH_ALERT_WEBHOOKS (the URL is resolved at send time).';
COMMENT ON COLUMN alert_outbox.payload IS 'The alerts.v1 notification; rendered per target format (json, slack, telegram) when sent.';
COMMENT ON COLUMN alert_outbox.next_attempt_at IS 'Not before: backoff after a failure, or the lease of a delivery in flight.';

"""``unioncard worker``: run background jobs off the queue (roster imports, card batches with
their print sheets, health-record pulls) until SIGTERM, which ends it after the current batch."""

from __future__ import annotations

import os
import re
from datetime import timedelta

import click
from flask import Flask

from app.cli.common import with_app


@click.command("worker")
@click.option("--reap-seconds", type=click.FloatRange(0.1, 3600), default=None,
              help="How often to look for jobs whose runner died "
                   "(default: UNIONCARD_QUEUE_REAP_SECONDS).")
@click.option("--poll-seconds", type=click.FloatRange(0.05, 60), default=1.0,
              show_default=True, help="How long to wait when the queue is empty.")
@with_app
def worker(app: Flask, reap_seconds: float | None, poll_seconds: float) -> None:
    """Run background jobs off the queue until stopped (SIGTERM or Ctrl-C: after the batch
    in progress); a job whose worker died is put back on the queue and resumed. Beside the
    jobs (a thread of its own) it sends the e-mail outbox (with SMTP configured), makes the
    hourly access-log checkpoint, the daily on-card refresh, the hourly pruning of expired
    presence-code bindings and old wrong-PIN windows, and sends exam results to the national
    health record (with UNIONCARD_HEALTH_FHIR_URL) (UNIONCARD_NOTIFY_EVERY_SECONDS,
    UNIONCARD_AUDIT_CHECKPOINT_SECONDS, UNIONCARD_ON_CARD_REFRESH_SECONDS,
    UNIONCARD_PIN_PRESENCE_PRUNE_SECONDS, UNIONCARD_EXAM_DELIVERY_EVERY_SECONDS; 0: off)."""
    from app.composition import job_queue
    from app.duties import periodic_duties
    from app.queue import queue_target
    from app.worker import Worker

    try:
        queue = job_queue(app)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    target = queue_target(app.config)
    where = re.sub(r"//[^@/]*@", "//", target)  # no password in the log
    click.echo(f"worker {os.getpid()} on queue {app.config['QUEUE_NAME']} at {where}", err=True)
    Worker(app, queue,
           reap_seconds=float(reap_seconds or app.config["QUEUE_REAP_SECONDS"]),
           stale_queued=timedelta(seconds=float(app.config["QUEUE_STALE_SECONDS"])),
           poll_seconds=poll_seconds, duties=periodic_duties(app)).run()

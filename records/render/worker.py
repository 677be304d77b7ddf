"""The render worker: a process that limits itself, then runs one job at a time.

It talks to the server over a socket pair. The server sends a job as a length and a pickle
(the server is trusted); the worker answers with a length, a JSON head and raw bytes, never a
pickle, so that a decoder subverted by a crafted file cannot hand the server code to run.

Answers: ``ok`` (the bytes follow), ``refused`` (the job refused the file, with its records
``Message`` as JSON, which the server checks before it believes it), ``memory`` (the job ran out
of the address space it may use) and ``failed`` (anything else). After ``memory`` or
``failed`` the worker exits: a fresh process takes its place.
"""

from __future__ import annotations

import logging
import os
import pickle
import resource
import signal
import socket
import struct
from typing import Any

import orjson

from ..errors import Invalid
from .base import Job, message_to_json

log = logging.getLogger(__name__)

JOB_LENGTH = struct.Struct("!Q")
HEAD_LENGTH = struct.Struct("!I")
# Renders give way to the server's own work on a shared CPU.
NICENESS = 10


def limit_self(memory_bytes: int) -> None:
    """Cap the address space, forbid core dumps (they would hold patient images), lower priority."""
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    cap = memory_bytes if hard == resource.RLIM_INFINITY else min(memory_bytes, hard)
    resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    # Ctrl-C in the server's terminal reaches the whole process group; the server stops us.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    os.nice(NICENESS)


def _attempt(job: Job) -> tuple[dict[str, Any], bytes]:
    try:
        done = job.run()
    except Invalid as exc:
        return {"status": "refused", "message": message_to_json(exc.text)}, b""
    except MemoryError:
        return {"status": "memory"}, b""
    except Exception:
        log.exception("render job %s failed", type(job).__name__)
        return {"status": "failed"}, b""
    head = {"status": "ok", "media_type": done.media_type, "meta": dict(done.meta)}
    return head, done.data


def serve(channel: socket.socket, memory_bytes: int) -> None:
    """The worker's life: limit itself, then answer jobs until the server closes the channel."""
    limit_self(memory_bytes)
    with channel, channel.makefile("rb") as stream:
        while True:
            raw = stream.read(JOB_LENGTH.size)
            if len(raw) < JOB_LENGTH.size:
                return
            (size,) = JOB_LENGTH.unpack(raw)
            job = pickle.loads(stream.read(size))
            head, data = _attempt(job)
            head["size"] = len(data)
            head["peak_rss_kb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            encoded = orjson.dumps(head)
            channel.sendall(HEAD_LENGTH.pack(len(encoded)) + encoded)
            channel.sendall(data)
            if head["status"] in ("memory", "failed"):
                return

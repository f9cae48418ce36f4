"""The shared secret of a search session: its token, and the gRPC interceptors that check it.

KerasTuner serves its oracle over a plain gRPC channel that anyone able to reach
the port could use to read the search space and send results. automodel gives
each session a token (``secrets.token_urlsafe(32)``, or ``AUTOMODEL_TOKEN`` when
set, so that a cluster script can choose it) that every call must carry as the
``automodel-token`` metadata; the chief answers a call without it, or with
another, with ``UNAUTHENTICATED``. Every call is checked, on 127.0.0.1 too, where
any local user could otherwise connect.

The token lives in the run directory in its own file (``chief_token``, readable
only by its owner), not in ``run.json``: the chief and workers of the same user
on a shared file system read it there; anyone else needs it passed
(``automodel worker --token``, or ``AUTOMODEL_TOKEN``). The channel stays
unencrypted: the token keeps strangers out, not eavesdroppers, so a chief bound
beyond 127.0.0.1 belongs on a private network or behind an ssh tunnel.

gRPC is imported only by the functions that need it; nothing here imports TensorFlow.
"""

from __future__ import annotations

import collections
import hmac
import os
import secrets

from ..errors import SearchError
from ..runs.rundir import RunDir, write_atomically

TOKEN_ENV = "AUTOMODEL_TOKEN"
TOKEN_FILE = "chief_token"
METADATA_KEY = "automodel-token"
MIN_TOKEN_LENGTH = 16
REFUSED = (
    "automodel chief: this call carries no valid token. Start the worker with --token as printed by "
    "`automodel chief` (or set AUTOMODEL_TOKEN), or run it as the chief's user on the shared run directory."
)


def check_token(token: str, source: str = TOKEN_ENV) -> str:
    """``token`` if it can travel as gRPC metadata and is too long to guess; else a ``SearchError``."""
    if len(token) < MIN_TOKEN_LENGTH or not token.isascii() or not token.isprintable() or " " in token:
        raise SearchError(f"{source} must be at least {MIN_TOKEN_LENGTH} printable ASCII characters without spaces"
                          + ("; leave it unset and each search makes its own." if source == TOKEN_ENV else "."))
    return token


def issue(run: RunDir) -> str:
    """The token of the session starting in ``run``: ``AUTOMODEL_TOKEN``, else a new one; stored for its processes."""
    given = os.environ.get(TOKEN_ENV)
    token = check_token(given) if given else secrets.token_urlsafe(32)

    def write(tmp):  # created readable by the owner only, whatever the umask, before the token is in it
        with os.fdopen(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as handle:
            os.chmod(tmp, 0o600)  # a temporary file that existed already keeps its own mode
            handle.write(token + "\n")

    write_atomically(run.path / TOKEN_FILE, write)
    return token


def stored_token(run: RunDir) -> str | None:
    """The session's token from the run directory; None when absent or unreadable (another user's)."""
    try:
        return (run.path / TOKEN_FILE).read_text().strip() or None
    except OSError:
        return None


def worker_token(run: RunDir, given: str | None) -> str:
    """The token a worker presents: ``--token``, else ``AUTOMODEL_TOKEN``, else the run directory's."""
    if given is not None:
        return check_token(given, "--token")
    if os.environ.get(TOKEN_ENV):
        return check_token(os.environ[TOKEN_ENV])
    token = stored_token(run)
    if token is None:
        raise SearchError(f"No token for the chief: {run.path / TOKEN_FILE} is missing or not readable by this user. "
                          "Pass --token as printed by `automodel chief`, or set AUTOMODEL_TOKEN.")
    return token


def server_interceptor(token: str):
    """A ``grpc.ServerInterceptor`` that lets through only calls carrying ``token``."""
    import grpc

    expected = token.encode()

    def refuse(request, context):
        context.abort(grpc.StatusCode.UNAUTHENTICATED, REFUSED)

    refusal = grpc.unary_unary_rpc_method_handler(refuse)  # every method of KerasTuner's Oracle is unary

    class TokenCheck(grpc.ServerInterceptor):
        def intercept_service(self, continuation, handler_call_details):
            given = dict(handler_call_details.invocation_metadata or ()).get(METADATA_KEY, "")
            if isinstance(given, str) and hmac.compare_digest(given.encode(), expected):
                return continuation(handler_call_details)
            return refusal

    return TokenCheck()


def authenticate(client, address: str, token: str) -> None:
    """Give KerasTuner's worker-side ``OracleClient`` a stub whose every call carries ``token``.

    ``OracleClient`` opens its own plain channel; its calls all go through ``client.stub``.
    """
    import grpc
    from keras_tuner.src import protos

    fields = ("method", "timeout", "metadata", "credentials", "wait_for_ready", "compression")

    class Details(collections.namedtuple("Details", fields), grpc.ClientCallDetails):
        pass

    class AddToken(grpc.UnaryUnaryClientInterceptor):
        def intercept_unary_unary(self, continuation, details, request):
            metadata = [*(details.metadata or ()), (METADATA_KEY, token)]
            return continuation(Details(details.method, details.timeout, metadata, details.credentials,
                                        details.wait_for_ready, details.compression), request)

    channel = grpc.intercept_channel(grpc.insecure_channel(address), AddToken())
    client.stub = protos.get_service_grpc().OracleStub(channel)

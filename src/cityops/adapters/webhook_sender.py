"""Send one webhook request over HTTP (the standard library's client; 10 s timeout)."""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Mapping


def post(url: str, headers: Mapping[str, str], body: bytes, timeout: float = 10.0) -> int:
    """POST ``body`` to ``url``; return the HTTP status (an error status is returned, not raised).

    Network failures (refused, timed out, DNS) raise OSError, which the dispatcher records and
    retries.
    """
    request = urllib.request.Request(url, data=body, headers=dict(headers), method="POST")
    # Webhooks go where the operator said: no environment proxies for loopback receivers.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(request, timeout=timeout) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)

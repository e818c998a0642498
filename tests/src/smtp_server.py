"""A real SMTP server for the tests (aiosmtpd, Debian's python3-aiosmtpd).

Each message received is written whole to DIR as a JSON file (temporary
name, then renamed): envelope, headers, decoded text body, the raw message,
the login used and whether the session was under TLS. Prints
"listening on PORT" once it accepts connections.

    smtp_server.py DIR [--auth USER:PASSWORD] [--tls CERT KEY [--implicit]] [--delay SECONDS]

--tls offers and requires STARTTLS; with --implicit the connection is TLS
from the first byte instead (port 465 style). --delay takes that long over
each message before accepting it, as a slow relay does.
"""

import argparse
import asyncio
import email
import email.policy
import json
import os
import ssl
import sys
import uuid

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword


class Folder:
    def __init__(self, folder, delay):
        self.folder = folder
        self.delay = delay

    async def handle_DATA(self, server, session, envelope):
        await asyncio.sleep(self.delay)
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        body = message.get_body(preferencelist=("plain",))
        auth = session.auth_data
        login = auth.login if isinstance(auth, LoginPassword) else None
        record = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "headers": {name: str(value) for name, value in message.items()},
            "body": body.get_content() if body is not None else "",
            "raw": envelope.content.decode("utf-8", "replace"),
            "login": login.decode() if isinstance(login, bytes) else login,
            "tls": session.ssl is not None or server.transport.get_extra_info("sslcontext") is not None,
        }
        name = uuid.uuid4().hex
        temporary = os.path.join(self.folder, "." + name + ".tmp")
        with open(temporary, "w", encoding="utf-8") as out:
            json.dump(record, out)
        os.rename(temporary, os.path.join(self.folder, name + ".json"))
        return "250 Message accepted for delivery"


def authenticator(user, password):
    def check(server, session, envelope, mechanism, auth_data):
        ok = (
            isinstance(auth_data, LoginPassword)
            and auth_data.login == user.encode()
            and auth_data.password == password.encode()
        )
        # handled=False: aiosmtpd answers a failure with 535 itself.
        return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)

    return check


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("folder")
    parser.add_argument("--auth")
    parser.add_argument("--tls", nargs=2, metavar=("CERT", "KEY"))
    parser.add_argument("--implicit", action="store_true")
    parser.add_argument("--delay", type=float, default=0.0)
    args = parser.parse_args()
    options = {"hostname": "localhost"}
    if args.auth:
        user, password = args.auth.split(":", 1)
        options.update(
            authenticator=authenticator(user, password),
            auth_required=True,
            # Plain-text AUTH is what the non-TLS test exercises.
            auth_require_tls=False,
        )
    wrapper = None
    if args.tls:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(args.tls[0], args.tls[1])
        if args.implicit:
            wrapper = context
        else:
            options.update(tls_context=context, require_starttls=True)
    handler = Folder(args.folder, args.delay)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: SMTP(handler, loop=loop, **options), "127.0.0.1", 0, ssl=wrapper
    )
    port = server.sockets[0].getsockname()[1]
    print(f"listening on {port}", flush=True)
    await server.serve_forever()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        sys.exit(0)

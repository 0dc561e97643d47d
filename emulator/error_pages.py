"""The HTML pages a function domain answers with when it cannot run the function, or when the
function answered an error status with an empty body (as Appwrite brands both).

Plain text in, HTML out: every value is escaped, and the page loads nothing from anywhere.
"""
from __future__ import annotations

from html import escape

# Error type -> the heading shown above the message (the message is the error's own); the
# headings Appwrite's pages show, which its e2e tests look for.
HEADINGS = {
    "function_not_found": "Function not found",
    "deployment_not_found": "No active deployments",
    "build_not_ready": "Deployment is still building",
    "build_failed": "Deployment build failed",
    "build_canceled": "Deployment build canceled",
    "function_execute_permission_missing": "Execution not permitted",
    "rule_not_found": "Nothing is here yet",
    "function_synchronous_timeout": "The function did not answer in time",
}
# Status -> what a visitor is told when the function answered it with an empty body.
STATUS_MESSAGES = {401: "You must sign in to access this page.", 403: "You are not authorized to access this page.",
                   404: "The page you are looking for does not exist.", 501: "This page is not implemented yet.",
                   504: "The server did not respond in time."}

_PAGE = """<!DOCTYPE html>
<html lang="en">
<head><meta charset="UTF-8"><meta name="viewport" content="width=device-width, initial-scale=1.0">
<title>{title}</title>
<style>body{{font-family:system-ui,sans-serif;margin:0;display:flex;min-height:100vh;align-items:center;
justify-content:center;color:#2d2d31;background:#fafafb}}main{{max-width:36rem;padding:2rem;text-align:center}}
.label{{font-size:.9rem;color:#6c6c71}}h1{{font-size:1.4rem;font-weight:500}}code{{color:#6c6c71}}</style>
</head>
<body><main>
<p class="label">{heading}</p>
<h1>{message}</h1>
{type_line}{links}</main></body>
</html>
"""


def error_page(error_type: str, code: int, message: str, links: list[tuple[str, str]] = ()) -> str:
    """The page for an error the domain request ended in (its type, HTTP code and message), with
    `links` (label, URL) to where it can be fixed."""
    anchors = "".join(f'<p><a href="{escape(url)}">{escape(label)}</a></p>\n' for label, url in links)
    return _PAGE.format(title=f"Error {code}", heading=escape(HEADINGS.get(error_type, f"Error {code}")),
                        message=escape(message), type_line=f"<p><code>{escape(error_type)}</code></p>\n",
                        links=anchors)


def status_page(code: int) -> str:
    """The page for a function's own error status sent with an empty body."""
    default = "An unexpected server error occurred." if code >= 500 else "An unexpected client error occurred."
    return _PAGE.format(title=f"Error {code}", heading=f"Error {code}",
                        message=escape(STATUS_MESSAGES.get(code, default)), type_line="", links="")

"""The Feishu / Lark front end: the same coach as on Telegram, on the official SDK (lark-oapi)."""

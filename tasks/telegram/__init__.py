"""The day posted to a Telegram channel: compose (the text), api (the Bot API client), publish (send, edit or
leave alone, recorded in the day file) and task (the `telegram-DATE` task run and when it runs)."""

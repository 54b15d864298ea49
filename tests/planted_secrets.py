"""Secret-looking variables with recognisable values, planted in os.environ to check that workers never see them."""

from __future__ import annotations

SECRETS = {
    "OPENAI_API_KEY": "sk-PLANTED-openai-5e1f",
    "ANTHROPIC_API_KEY": "sk-ant-PLANTED-77c2",
    "MISTRAL_API_KEY": "PLANTED-mistral-0d4b",
    "TELEGRAM_BOT_TOKEN": "123456:PLANTED-telegram-aa90",
    "AWS_SECRET_ACCESS_KEY": "PLANTED-aws-secret-3b8e",
    "HF_TOKEN": "hf_PLANTEDtoken9c1d",
    "SMTP_PASSWORD": "PLANTED-password-61aa",
    "MY_SERVICE_SECRET": "PLANTED-service-secret-2f0c",
    "PREFECT_API_DATABASE_CONNECTION_URL": "postgresql+asyncpg://u:PLANTED-dbpass-8e3a@db/prefect",
}

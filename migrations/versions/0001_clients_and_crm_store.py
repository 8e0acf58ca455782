"""API clients and the reference CRM store (matching policies/datamap.yaml).

Revision ID: 0001
Revises:
Create Date: 2026-11-23

Static DDL on purpose: a migration records what the schema was at this revision; a test
(tests/functional/test_schema_matches_datamap.py) proves the migrated store and the data map
agree, so a data map edit without a migration fails CI.
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

CRM_TABLES = (
    "web_events",
    "support_tickets",
    "payment_details",
    "order_lines",
    "orders",
    "interactions",
    "campaign_responses",
    "customers",
    "companies",
)


def upgrade() -> None:
    op.create_table(
        "api_clients",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("name", sa.String(100), nullable=False, unique=True),
        sa.Column("role", sa.String(32), nullable=False),
        sa.Column("purposes", sa.JSON(), nullable=False),
        sa.Column("key_prefix", sa.String(16), nullable=False),
        sa.Column("key_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_table(
        "companies",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("name", sa.String(200)),
        sa.Column("industry", sa.String(80)),
        sa.Column("employee_count", sa.BigInteger()),
        sa.Column("annual_revenue", sa.Numeric(14, 2)),
        sa.Column("country", sa.String(2)),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "customers",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("first_name", sa.LargeBinary()),
        sa.Column("last_name", sa.LargeBinary()),
        sa.Column("email", sa.LargeBinary()),
        sa.Column("email_bidx", sa.LargeBinary()),
        sa.Column("phone", sa.LargeBinary()),
        sa.Column("phone_bidx", sa.LargeBinary()),
        sa.Column("street", sa.LargeBinary()),
        sa.Column("city", sa.String(100)),
        sa.Column("postal_code", sa.LargeBinary()),
        sa.Column("country", sa.String(2)),
        sa.Column("date_of_birth", sa.LargeBinary()),
        sa.Column("gender", sa.LargeBinary()),
        sa.Column("language", sa.String(8)),
        sa.Column("job_title", sa.String(120)),
        sa.Column(
            "company_id",
            sa.String(32),
            sa.ForeignKey("companies.id", name="fk_customers_company_id"),
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_customers_email_bidx", "customers", ["email_bidx"])
    op.create_index("ix_customers_phone_bidx", "customers", ["phone_bidx"])
    op.create_index("ix_customers_company_id", "customers", ["company_id"])
    op.create_table(
        "campaign_responses",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column(
            "subject_id",
            sa.String(32),
            sa.ForeignKey("customers.id", name="fk_campaign_responses_subject_id"),
            nullable=False,
        ),
        sa.Column("campaign_code", sa.String(40)),
        sa.Column("channel", sa.String(255)),
        sa.Column("sent_at", sa.DateTime(timezone=True)),
        sa.Column("opened", sa.Boolean()),
        sa.Column("clicked", sa.Boolean()),
        sa.Column("feedback", sa.LargeBinary()),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_campaign_responses_subject_id", "campaign_responses", ["subject_id"])
    op.create_table(
        "interactions",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column(
            "subject_id",
            sa.String(32),
            sa.ForeignKey("customers.id", name="fk_interactions_subject_id"),
            nullable=False,
        ),
        sa.Column("kind", sa.String(255)),
        sa.Column("direction", sa.String(255)),
        sa.Column("occurred_at", sa.DateTime(timezone=True)),
        sa.Column("summary", sa.LargeBinary()),
        sa.Column("body", sa.LargeBinary()),
        sa.Column("outcome", sa.String(255)),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_interactions_subject_id", "interactions", ["subject_id"])
    op.create_table(
        "orders",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column(
            "subject_id", sa.String(32), sa.ForeignKey("customers.id", name="fk_orders_subject_id")
        ),
        sa.Column("order_number", sa.String(20)),
        sa.Column("ordered_at", sa.DateTime(timezone=True)),
        sa.Column("status", sa.String(255)),
        sa.Column("channel", sa.String(255)),
        sa.Column("payment_method", sa.String(255)),
        sa.Column("currency", sa.String(3)),
        sa.Column("total_amount", sa.Numeric(14, 2)),
        sa.Column("shipping_city", sa.String(100)),
        sa.Column("shipping_postal_code", sa.LargeBinary()),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_orders_subject_id", "orders", ["subject_id"])
    op.create_table(
        "payment_details",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column(
            "subject_id",
            sa.String(32),
            sa.ForeignKey("customers.id", name="fk_payment_details_subject_id"),
            nullable=False,
        ),
        sa.Column("method", sa.String(255)),
        sa.Column("card_brand", sa.String(20)),
        sa.Column("card_last4", sa.LargeBinary()),
        sa.Column("card_expiry", sa.LargeBinary()),
        sa.Column("iban", sa.LargeBinary()),
        sa.Column("billing_street", sa.LargeBinary()),
        sa.Column("billing_city", sa.String(100)),
        sa.Column("billing_postal_code", sa.LargeBinary()),
        sa.Column("billing_country", sa.String(2)),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_payment_details_subject_id", "payment_details", ["subject_id"])
    op.create_table(
        "support_tickets",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column(
            "subject_id",
            sa.String(32),
            sa.ForeignKey("customers.id", name="fk_support_tickets_subject_id"),
            nullable=False,
        ),
        sa.Column("ticket_type", sa.String(255)),
        sa.Column("priority", sa.String(255)),
        sa.Column("opened_at", sa.DateTime(timezone=True)),
        sa.Column("description", sa.LargeBinary()),
        sa.Column("first_response_minutes", sa.BigInteger()),
        sa.Column("status", sa.String(255)),
        sa.Column("resolution", sa.LargeBinary()),
        sa.Column("satisfaction", sa.BigInteger()),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_support_tickets_subject_id", "support_tickets", ["subject_id"])
    op.create_table(
        "web_events",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column(
            "subject_id",
            sa.String(32),
            sa.ForeignKey("customers.id", name="fk_web_events_subject_id"),
            nullable=False,
        ),
        sa.Column("occurred_at", sa.DateTime(timezone=True)),
        sa.Column("page", sa.String(500)),
        sa.Column("duration_seconds", sa.BigInteger()),
        sa.Column("device_id", sa.LargeBinary()),
        sa.Column("ip_address", sa.LargeBinary()),
        sa.Column("referrer", sa.String(500)),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_web_events_subject_id", "web_events", ["subject_id"])
    op.create_table(
        "order_lines",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column(
            "subject_id",
            sa.String(32),
            sa.ForeignKey("customers.id", name="fk_order_lines_subject_id"),
        ),
        sa.Column(
            "order_id", sa.String(32), sa.ForeignKey("orders.id", name="fk_order_lines_order_id")
        ),
        sa.Column("product_sku", sa.String(40)),
        sa.Column("product_name", sa.String(200)),
        sa.Column("quantity", sa.BigInteger()),
        sa.Column("unit_price", sa.Numeric(14, 2)),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_order_lines_subject_id", "order_lines", ["subject_id"])
    op.create_index("ix_order_lines_order_id", "order_lines", ["order_id"])


def downgrade() -> None:
    for table in CRM_TABLES:
        op.drop_table(table)
    op.drop_table("api_clients")

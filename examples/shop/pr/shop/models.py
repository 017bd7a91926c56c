import sqlalchemy as sa
from sqlalchemy.orm import declarative_base

Base = declarative_base()

order_status = sa.Enum("pending", "paid", "shipped", name="order_status")


class User(Base):
    __tablename__ = "users"
    id = sa.Column(sa.Integer, primary_key=True)
    email = sa.Column(sa.String(255), nullable=False, unique=True)
    name = sa.Column(sa.String(50), nullable=True)


class Order(Base):
    __tablename__ = "orders"
    id = sa.Column(sa.Integer, primary_key=True)
    user_id = sa.Column(sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    status = sa.Column(order_status, nullable=False)
    total_cents = sa.Column(sa.Integer, nullable=False)
    __table_args__ = (sa.Index("ix_orders_user_id", "user_id"),)


ticket_status = sa.Enum("open", "closed", name="ticket_status")


class Ticket(Base):
    __tablename__ = "tickets"
    id = sa.Column(sa.Integer, primary_key=True)
    user_id = sa.Column(sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    status = sa.Column(ticket_status, nullable=False)
    subject = sa.Column(sa.String(200), nullable=False)
    __table_args__ = (sa.Index("ix_tickets_user_id", "user_id"),)

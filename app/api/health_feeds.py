"""Health-record feed clients (OAuth 2 client credentials): administrators manage them."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView

from app.api.blueprint import Blueprint
from app.composition import data_cipher
from app.edge.auth import ADMIN, actor, requires
from app.edge.problems import ProblemSchema
from app.extensions import db
from app.schemas.health_feeds import CreateFeedSchema, FeedCredentialsSchema, FeedSchema
from app.services.health.feeds import FeedClients

blp = Blueprint("health_feeds", __name__, url_prefix="/api/v1/health-feeds",
                description="Health-record feed clients: the provincial / national systems "
                            "that push members' FHIR summaries (administrators only).")


def clients() -> FeedClients:
    """The feed clients, managed by the caller."""
    return FeedClients(db.session, data_cipher(), actor=actor())


@blp.route("")
class HealthFeeds(MethodView):
    """The feed clients."""

    @requires(*ADMIN)
    @blp.response(200, FeedSchema(many=True))
    def get(self) -> Any:
        """List the feed clients (never their secrets)."""
        return clients().list()

    @requires(*ADMIN)
    @blp.arguments(CreateFeedSchema)
    @blp.response(201, FeedCredentialsSchema)
    @blp.alt_response(422, schema=ProblemSchema, description="No or unknown provinces")
    def post(self, args: dict[str, Any]) -> Any:
        """Create a feed client; its `client_secret` is in this answer only (audited)."""
        return clients().create(args["name"], args["provinces"])


@blp.route("/<int:feed_id>")
class HealthFeedById(MethodView):
    """One feed client."""

    @requires(*ADMIN)
    @blp.response(200, FeedSchema)
    @blp.alt_response(404, schema=ProblemSchema, description="No such feed client")
    def get(self, feed_id: int) -> Any:
        """Show a feed client."""
        return clients().get(feed_id)


@blp.route("/<int:feed_id>/rotate-secret")
class RotateFeedSecret(MethodView):
    """A feed client's secret."""

    @requires(*ADMIN)
    @blp.response(200, FeedCredentialsSchema)
    @blp.alt_response(404, schema=ProblemSchema, description="No such feed client")
    def post(self, feed_id: int) -> Any:
        """Give the client a new secret, shown in this answer only; the old secret and the
        tokens issued with it stop working at once (audited)."""
        service = clients()
        return service.rotate_secret(service.get(feed_id))


@blp.route("/<int:feed_id>/disable")
class DisableFeed(MethodView):
    """Disabling a feed client."""

    @requires(*ADMIN)
    @blp.response(200, FeedSchema)
    @blp.alt_response(404, schema=ProblemSchema, description="No such feed client")
    def post(self, feed_id: int) -> Any:
        """Disable the client: no new token, and its tokens stop working at once (audited)."""
        service = clients()
        return service.disable(service.get(feed_id))

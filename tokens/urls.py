"""Routes of /api/v1/tokens."""

from config.api.routers import Router
from tokens.views import TokenViewSet

router = Router()
router.register("tokens", TokenViewSet, basename="token")

urlpatterns = router.urls

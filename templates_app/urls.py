from django.urls import path

from . import views

app_name = "templates_app"
urlpatterns = [
    path("", views.TemplateListView.as_view(), name="list"),
    path("<int:pk>/", views.TemplateDetailView.as_view(), name="edit"),
]

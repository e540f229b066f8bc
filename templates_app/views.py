from django.views.generic import DetailView, ListView

from .models import MessageTemplate


class TemplateListView(ListView):
    model = MessageTemplate
    template_name = "templates_app/template_list.html"

    def get_queryset(self):
        return super().get_queryset().select_related("provider")


class TemplateDetailView(DetailView):
    model = MessageTemplate
    template_name = "templates_app/template_detail.html"

from django.views.generic import DetailView, ListView

from .models import Provider


class ProviderListView(ListView):
    model = Provider
    template_name = "providers/provider_list.html"


class ProviderDetailView(DetailView):
    model = Provider
    template_name = "providers/provider_detail.html"

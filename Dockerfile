FROM python:3.11-slim-bookworm
RUN apt-get update \
 && apt-get install -y --no-install-recommends fonts-noto-cjk libpango-1.0-0 libpangoft2-1.0-0 \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY pyproject.toml ./
COPY portal ./portal
COPY facilities ./facilities
COPY eligibility ./eligibility
COPY incentives ./incentives
COPY subsidies ./subsidies
RUN pip install --no-cache-dir .
COPY . .
ENV DJANGO_SETTINGS_MODULE=portal.settings.production
RUN DJANGO_SECRET_KEY=build-only DJANGO_ALLOWED_HOSTS=localhost python manage.py collectstatic --noinput
EXPOSE 8000
CMD ["gunicorn", "portal.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3"]

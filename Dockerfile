FROM python:3.11-slim-bookworm
RUN apt-get update \
 && apt-get install -y --no-install-recommends fonts-noto-cjk libpango-1.0-0 libpangoft2-1.0-0 \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
# The runtime dependencies of pyproject.toml at the exact versions of requirements/lock.txt
# (the lock's test, card-reader and bench extras are not installed here).
COPY pyproject.toml ./
COPY requirements/lock.txt ./requirements/
RUN python -c "import tomllib; print(*tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies'], sep='\n')" \
      > /tmp/runtime.txt \
 && pip install --no-cache-dir -r /tmp/runtime.txt -c requirements/lock.txt \
 && rm /tmp/runtime.txt
COPY . .
RUN pip install --no-cache-dir --no-deps -e . && pip check
ENV DJANGO_SETTINGS_MODULE=portal.settings.production
RUN DJANGO_SECRET_KEY=build-only DJANGO_ALLOWED_HOSTS=localhost python manage.py collectstatic --noinput
EXPOSE 8000
CMD ["gunicorn", "portal.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3"]

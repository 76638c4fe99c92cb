# Citewise, CPU image: the same locked dependency set the Makefile installs.
FROM python:3.11-slim
RUN apt-get update && apt-get install -y --no-install-recommends \
        tesseract-ocr poppler-utils libmagic1 \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY requirements/lock.txt requirements/lock.txt
RUN pip install --no-cache-dir --no-deps -r requirements/lock.txt \
        --extra-index-url https://download.pytorch.org/whl/cpu
COPY . .
RUN pip install --no-cache-dir --no-deps ./vendor/en_core_web_sm .
ENV HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 DO_NOT_TRACK=1 UNSTRUCTURED_DISABLE_NOTICE=1
ENTRYPOINT []
CMD ["citewise", "--help"]

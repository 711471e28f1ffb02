# wrinkletrack: the analysis command line (the HTTP service will be the default command once it
# lands). Install steps are the ones .ci/run proves: a venv-free pip install of the project.
FROM python:3.11-slim

# OpenCV (contrib wheel) and MediaPipe need these shared libraries at run time.
RUN apt-get update \
    && apt-get install -y --no-install-recommends libgl1 libglib2.0-0 libegl1 libgles2 \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY pyproject.toml README.md ./
COPY analysis ./analysis
COPY models ./models
COPY service ./service
COPY datasets ./datasets
RUN pip install --no-cache-dir --upgrade pip && pip install --no-cache-dir .

RUN useradd --create-home wrinkletrack
USER wrinkletrack
ENV WRINKLETRACK_DATA_DIR=/home/wrinkletrack/data
ENTRYPOINT ["wrinkletrack"]
CMD ["--help"]

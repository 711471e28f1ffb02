# wrinkletrack: the HTTP service by default (`docker run -p 8000:8000 IMAGE`), or any command
# (`docker run IMAGE analyze photo.jpg`). Install step: the same pip install that .ci/run proves.
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
EXPOSE 8000
ENTRYPOINT ["wrinkletrack"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8000"]

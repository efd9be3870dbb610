"""Publishing the PWA to S3/CloudFront and OSS/Alibaba CDN."""

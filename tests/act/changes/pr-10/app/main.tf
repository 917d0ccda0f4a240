resource "aws_s3_bucket" "assets" {
  bucket = "acme-${var.environment}-assets"

  versioning {
    enabled = true
  }

  server_side_encryption_configuration {
    rule {
      apply_server_side_encryption_by_default {
        sse_algorithm = "AES256"
      }
    }
  }

  tags = {
    environment = var.environment
    service     = "app"
    owner       = "platform"
    tier        = "web"
    release     = "10"
    network     = var.network_sg_id
  }
}

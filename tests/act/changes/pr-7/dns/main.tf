resource "aws_s3_bucket" "zones" {
  bucket = "acme-${var.environment}-dns-zones"

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
    service     = "dns"
    owner       = "platform"
  }
}

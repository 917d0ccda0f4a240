module "tags" {
  source      = "../modules/tags"
  environment = var.environment
  service     = "app"
}

resource "aws_s3_bucket" "assets" {
  bucket = "example-app-assets-${var.environment}"
  tags   = module.tags.tags
}

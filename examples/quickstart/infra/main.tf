# The quickstart's infrastructure: a small web stack. Offline it runs against testcloud, the
# test provider served as hashicorp/aws (see scripts/record-quickstart.sh).
terraform {
  required_version = ">= 1.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.0"
    }
  }
}

provider "aws" {
  region = "us-east-1"
}

variable "environment" {
  type    = string
  default = "dev"
}

variable "db_password" {
  description = "Master password of the app database"
  type        = string
  sensitive   = true
  default     = "canary-S3cr3t-do-not-print"
}

locals {
  tags = {
    app         = "quickstart"
    environment = var.environment
  }
}

resource "aws_s3_bucket" "assets" {
  bucket = "quickstart-${var.environment}-assets"

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

  tags = local.tags
}

resource "aws_security_group" "web" {
  name        = "quickstart-${var.environment}-web"
  description = "HTTPS from anywhere, SSH from the VPN"

  ingress {
    description = "HTTPS"
    from_port   = 443
    to_port     = 443
    protocol    = "tcp"
    cidr_blocks = ["0.0.0.0/0"]
  }

  ingress {
    description = "SSH from the VPN"
    from_port   = 22
    to_port     = 22
    protocol    = "tcp"
    cidr_blocks = ["10.0.0.0/8"]
  }

  egress {
    from_port   = 0
    to_port     = 0
    protocol    = "-1"
    cidr_blocks = ["0.0.0.0/0"]
  }

  tags = local.tags
}

resource "aws_instance" "web" {
  ami                    = "ami-0c55b159cbfafe1f0"
  instance_type          = "t3.micro"
  subnet_id              = "subnet-0a1b2c3d4e5f60718"
  vpc_security_group_ids = [aws_security_group.web.id]
  user_data              = "#!/bin/sh\necho 'hello from quickstart' > /var/www/index.html\n"

  root_block_device {
    volume_type = "gp3"
    volume_size = 20
    encrypted   = true
  }

  tags = merge(local.tags, { Name = "quickstart-${var.environment}-web" })
}

resource "aws_ebs_volume" "data" {
  availability_zone = "us-east-1a"
  size              = 100
  type              = "gp3"
  iops              = 3000
  throughput        = 125
  encrypted         = true

  tags = merge(local.tags, { Name = "quickstart-${var.environment}-data" })
}

resource "aws_db_instance" "app" {
  identifier              = "quickstart-${var.environment}-db"
  engine                  = "postgres"
  engine_version          = "15.4"
  instance_class          = "db.t3.micro"
  allocated_storage       = 20
  storage_encrypted       = true
  multi_az                = false
  publicly_accessible     = false
  backup_retention_period = 7
  skip_final_snapshot     = true
  username                = "app"
  password                = var.db_password
  vpc_security_group_ids  = [aws_security_group.web.id]

  tags = local.tags
}

resource "aws_nat_gateway" "egress" {
  subnet_id     = "subnet-0a1b2c3d4e5f60718"
  allocation_id = "eipalloc-0f1e2d3c4b5a69788"

  tags = merge(local.tags, { Name = "quickstart-${var.environment}-nat" })
}

resource "aws_iam_policy" "read_assets" {
  name        = "quickstart-${var.environment}-read-assets"
  description = "Lets the web tier read its assets"
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect   = "Allow"
      Action   = ["s3:GetObject", "s3:ListBucket"]
      Resource = [aws_s3_bucket.assets.arn, "${aws_s3_bucket.assets.arn}/*"]
    }]
  })
}

output "bucket_arn" {
  value = aws_s3_bucket.assets.arn
}

output "db_endpoint" {
  value = aws_db_instance.app.endpoint
}

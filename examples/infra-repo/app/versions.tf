terraform {
  required_version = ">= 1.0"
  backend "s3" {
    key = "app/terraform.tfstate"
  }
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.0"
    }
  }
}

provider "aws" {
  region = var.region
}

terraform {
  required_version = ">= 1.0"
  # One state per environment: `-backend-config=backend/<env>.hcl`.
  backend "local" {}
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

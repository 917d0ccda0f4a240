environment = "prod"
region      = "eu-west-1"

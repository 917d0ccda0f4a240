environment = "staging"
region      = "eu-west-1"

package main
import (
 _ "github.com/stretchr/testify/require"
 _ "github.com/testcontainers/testcontainers-go"
 _ "github.com/testcontainers/testcontainers-go/modules/postgres"
 _ "github.com/testcontainers/testcontainers-go/network"
 _ "github.com/jackc/pgx/v5/pgxpool"
 _ "github.com/redis/go-redis/v9"
 _ "github.com/golang-jwt/jwt/v5"
 _ "golang.org/x/crypto/bcrypt"
)

/* The swarm's root CA and join tokens, as swarmkit makes them (ca/certificates.go,
 * ca/config.go): an ECDSA P-256 self-signed root "swarm-ca" valid 20 years, its TLSInfo, and
 * SWMTKN-1 tokens whose digest pins the root. Issuing node certificates is left out. */
#include "manager/internal.h"

#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "base/log.h"
#include "base/buf.h"
#include "base/mem.h"

void shoal_manager_base36(const unsigned char *b, size_t n, size_t width, char *out)
{
	static const char digits[] = "0123456789abcdefghijklmnopqrstuvwxyz";
	unsigned char *num = shoal_malloc(n > 0 ? n : 1);
	size_t len = 0, i, max = (width > 2 * n ? width : 2 * n);
	char *tmp = shoal_malloc(max + 1);

	memcpy(num, b, n);
	/* Repeated division of the big-endian number by 36; digits come out least first. */
	for (;;) {
		unsigned rem = 0;
		bool zero = true;

		for (i = 0; i < n; i++) {
			unsigned cur = rem * 256 + num[i];

			num[i] = (unsigned char)(cur / 36);
			rem = cur % 36;
			if (num[i] != 0)
				zero = false;
		}
		tmp[len++] = digits[rem];
		if (zero)
			break;
	}
	/* The loop writes one digit even for zero; a number's leading zeros are padding anyway. */
	while (len > 1 && tmp[len - 1] == '0')
		len--;
	i = 0;
	while (len + i < width)
		out[i++] = '0';
	while (len > 0)
		out[i++] = tmp[--len];
	out[i] = '\0';
	free(tmp);
	free(num);
}

char *shoal_manager_join_token(const char *ca_pem)
{
	unsigned char digest[SHA256_DIGEST_LENGTH], secret[16];
	char d36[80], s36[40];

	SHA256((const unsigned char *)ca_pem, strlen(ca_pem), digest);
	if (getrandom(secret, sizeof(secret), 0) != (ssize_t)sizeof(secret))
		shoal_fatal("manager", "getrandom");
	shoal_manager_base36(digest, sizeof(digest), 50, d36);
	shoal_manager_base36(secret, sizeof(secret), 25, s36);
	return shoal_asprintf("SWMTKN-1-%s-%s", d36, s36);
}

static char *bio_string(BIO *bio)
{
	char *data;
	long n = BIO_get_mem_data(bio, &data);

	return shoal_strndup(data, (size_t)n);
}

static char *base64_der(const unsigned char *der, int len)
{
	struct shoal_buf b;
	char *out;

	shoal_buf_init(&b);
	shoal_buf_add_base64(&b, der, (size_t)len);
	out = shoal_buf_detach(&b, NULL);
	shoal_buf_fini(&b);
	return out;
}

int shoal_manager__ca_new(char **cert_pem, char **key_pem, struct shoal_err *err)
{
	EVP_PKEY *key = NULL;
	X509 *x = NULL;
	X509_NAME *name;
	X509_EXTENSION *ext;
	X509V3_CTX v3;
	BIO *cb = NULL, *kb = NULL;
	unsigned char serial[20];
	BIGNUM *bn = NULL;
	int rv = -1;

	/* P-256 key generation takes well under a millisecond: not worth the pool. */
	key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	x = X509_new();
	if (key == NULL || x == NULL)
		goto fail;
	if (getrandom(serial, sizeof(serial), 0) != (ssize_t)sizeof(serial))
		goto fail;
	serial[0] &= 0x7f;
	bn = BN_bin2bn(serial, sizeof(serial), NULL);
	X509_set_version(x, 2);
	BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x));
	/* swarmkit backdates by the clock skew it tolerates and lasts 20 years */
	X509_gmtime_adj(X509_getm_notBefore(x), -3600);
	X509_gmtime_adj(X509_getm_notAfter(x), 20L * 365 * 24 * 3600);
	X509_set_pubkey(x, key);
	name = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(name, "CN", V_ASN1_PRINTABLESTRING,
				   (const unsigned char *)"swarm-ca", -1, -1, 0);
	X509_set_issuer_name(x, name);
	X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &v3, NID_key_usage, "critical,keyCertSign,cRLSign");
	if (ext == NULL)
		goto fail;
	X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	ext = X509V3_EXT_conf_nid(NULL, &v3, NID_basic_constraints, "critical,CA:TRUE");
	if (ext == NULL)
		goto fail;
	X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	ext = X509V3_EXT_conf_nid(NULL, &v3, NID_subject_key_identifier, "hash");
	if (ext == NULL)
		goto fail;
	X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	if (X509_sign(x, key, EVP_sha256()) == 0)
		goto fail;
	cb = BIO_new(BIO_s_mem());
	kb = BIO_new(BIO_s_mem());
	if (!PEM_write_bio_X509(cb, x) ||
	    !PEM_write_bio_PrivateKey(kb, key, NULL, NULL, 0, NULL, NULL))
		goto fail;
	*cert_pem = bio_string(cb);
	*key_pem = bio_string(kb);
	rv = 0;
	goto out;
fail:
	shoal_errorf(err, 500, "cannot create the swarm root CA");
out:
	BIO_free(cb);
	BIO_free(kb);
	BN_free(bn);
	X509_free(x);
	EVP_PKEY_free(key);
	return rv;
}

json_t *shoal_manager__tls_info(const char *cert_pem)
{
	BIO *bio = BIO_new_mem_buf(cert_pem, -1);
	X509 *x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
	unsigned char *der = NULL;
	char *subject = NULL, *pub = NULL;
	json_t *out;
	int n;

	BIO_free(bio);
	if (x == NULL)
		return json_pack("{s:s, s:s, s:s}", "TrustRoot", cert_pem, "CertIssuerSubject", "",
				 "CertIssuerPublicKey", "");
	n = i2d_X509_NAME(X509_get_subject_name(x), &der);
	if (n > 0)
		subject = base64_der(der, n);
	OPENSSL_free(der);
	der = NULL;
	n = i2d_PUBKEY(X509_get0_pubkey(x), &der);
	if (n > 0)
		pub = base64_der(der, n);
	OPENSSL_free(der);
	X509_free(x);
	out = json_pack("{s:s, s:s, s:s}", "TrustRoot", cert_pem, "CertIssuerSubject",
			subject ? subject : "", "CertIssuerPublicKey", pub ? pub : "");
	free(subject);
	free(pub);
	return out;
}

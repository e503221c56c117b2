package topology

import (
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"
)

// The residency of a Bedrock backend (docs/bedrock.md, "Residency of a
// Bedrock backend"): Meridian labels what a deployment serves with the
// deployment's region, and signs residency receipts for it, so Amazon
// Bedrock must run the deployment's model inside that region's geography.
// Three things decide where Bedrock runs it, and each is checked:
//
//   - aws_region, the Region Bedrock is called in (a model id without a
//     cross-Region prefix runs there);
//   - the model: a cross-Region inference profile (us., eu., apac., jp.,
//     au., ca., us-gov., global.) runs in the Regions of its geography, an
//     ARN names its own Region, and an application inference profile's
//     Regions cannot be read from the file;
//   - endpoint, whose host may name a Region of its own (a VPC endpoint of
//     bedrock-runtime in another Region).
//
// An AWS Region lies in the deployment's geography when it is a region of
// the topology in that geography, or else when it is of the same family
// (the first part of its id: eu, us, ap, ca, sa, me, af, il, mx, us-gov,
// ...) as the Region aws_region names and the topology puts no Region of
// that family in another geography. A deployment whose region id is not
// an AWS Region id must call Bedrock in a Region the topology defines.

// awsRegionRE matches an AWS Region id: eu-central-1, us-gov-west-1,
// ap-southeast-5, us-isob-east-1.
var awsRegionRE = regexp.MustCompile(`^(us-gov|us-iso[a-z]?|[a-z]{2})-[a-z]+-[0-9]+$`)

// awsFamily returns the family of an AWS Region id ("" for a string that
// is not one): us-gov for us-gov-west-1, else the part before the first
// hyphen (eu for eu-central-1).
func awsFamily(id string) string {
	m := awsRegionRE.FindStringSubmatch(id)
	if m == nil {
		return ""
	}
	return m[1]
}

// crossRegionFamilies are the families of the Regions a cross-Region
// inference profile of each geography prefix may run in. apac. reaches
// me-central-1 besides the ap- Regions; ca. is taken to reach the US
// Regions too (Bedrock's Canadian profiles route there), which fails
// closed. global. may run in any commercial Region and has no entry.
var crossRegionFamilies = map[string][]string{
	"us":     {"us"},
	"us-gov": {"us-gov"},
	"eu":     {"eu"},
	"apac":   {"ap", "me"},
	"jp":     {"ap"},
	"au":     {"ap"},
	"ca":     {"ca", "us"},
}

// crossRegionPrefix returns the geography prefix of a Bedrock model or
// inference profile id (us for us.anthropic.claude-...), or "".
func crossRegionPrefix(id string) string {
	pfx, _, ok := strings.Cut(id, ".")
	if !ok {
		return ""
	}
	if _, known := crossRegionFamilies[pfx]; known || pfx == "global" {
		return pfx
	}
	return ""
}

// regionArnTypes are the Bedrock ARN resource types that run in the
// ARN's own Region.
var regionArnTypes = []string{"foundation-model", "provisioned-model", "custom-model", "imported-model", "custom-model-deployment"}

// validateBedrockResidency refuses a Bedrock backend that could run the
// deployment's model outside its region's geography. f is the deployment's
// field path ("deployments[3]").
func (c *Config) validateBedrockResidency(p *problems, f string, d Deployment) {
	b := d.Backend
	if b.ResidencyChecked && b.Type != BackendBedrock {
		p.add(f+".backend.residency_checked", "remove it: Meridian runs the other backends' models where the deployment says", "residency_checked applies only to a bedrock backend")
	}
	dep, ok := c.Region(d.Region)
	if !ok || b.Type != BackendBedrock || b.AWSRegion == "" {
		return
	}
	geo := dep.Geography
	if awsFamily(b.AWSRegion) == "" {
		p.add(f+".backend.aws_region", "use the AWS Region id Bedrock is called in, e.g. "+c.exampleRegion(dep), "%q is not an AWS Region id", b.AWSRegion)
		return
	}
	if why := c.outsideGeography(b.AWSRegion, dep); why != "" {
		p.add(f+".backend.aws_region", "call Bedrock in a Region of geography "+geo+", e.g. "+c.exampleRegion(dep)+", or deploy the model in a region of the right geography",
			"%s: Bedrock could run the model outside geography %s, where deployment region %s lies", why, geo, dep.ID)
		return
	}
	model := b.Model
	field := f + ".backend.model"
	if strings.HasPrefix(model, "arn:") {
		parts := strings.SplitN(model, ":", 6)
		if len(parts) != 6 || parts[2] != "bedrock" {
			p.add(field, "use a Bedrock model id, inference profile id or Bedrock ARN", "%q is not a Bedrock ARN", model)
			return
		}
		region, resource := parts[3], parts[5]
		typ, id, _ := strings.Cut(resource, "/")
		if region != "" {
			if awsFamily(region) == "" {
				p.add(field, "use an ARN in a Region of geography "+geo, "the ARN's Region %q is not an AWS Region id", region)
				return
			}
			if why := c.outsideGeography(region, dep); why != "" {
				p.add(field, "use an ARN in a Region of geography "+geo+", e.g. "+c.exampleRegion(dep), "the ARN names another geography's Region: %s", why)
				return
			}
		}
		switch {
		case slices.Contains(regionArnTypes, typ):
			return
		case typ == "inference-profile":
			model = id
		case b.ResidencyChecked:
			return
		case typ == "application-inference-profile":
			p.add(field, "check that every Region the profile routes to lies in geography "+geo+", then set backend.residency_checked: true; or use a model or inference profile id",
				"Meridian cannot tell where application inference profile %s runs the model", id)
			return
		default:
			p.add(field, "use a model or inference profile id or ARN; for another Bedrock resource, check that it runs the model in geography "+geo+", then set backend.residency_checked: true",
				"Meridian cannot tell where a Bedrock %q resource runs the model", typ)
			return
		}
	}
	switch pfx := crossRegionPrefix(model); pfx {
	case "":
		// A model without a prefix runs in the Region it is called in.
	case "global":
		p.add(field, "use the "+geoPrefixHint(b.AWSRegion)+" profile or the model id without a prefix (it runs in aws_region); backend.residency_checked does not apply",
			"%q is a global cross-Region inference profile: Bedrock may run it in any commercial AWS Region, outside geography %s", model, geo)
	default:
		base := awsFamily(b.AWSRegion)
		fams := crossRegionFamilies[pfx]
		var outside []string
		for _, fam := range fams {
			if fam != base || c.splitFamily(fam, geo) != "" {
				outside = append(outside, fam+"-")
			}
		}
		switch {
		case len(outside) == 0:
		case !slices.Contains(fams, base):
			p.add(field, "use the "+geoPrefixHint(b.AWSRegion)+" profile or the model id without a prefix (it runs in aws_region)",
				"%q is a cross-Region inference profile (%s.): Bedrock runs it in %s Regions, outside geography %s", model, pfx, strings.Join(fams, "- and ")+"-", geo)
		case !b.ResidencyChecked:
			p.add(field, "use the model id without a prefix (it runs in aws_region) or a narrower profile; or check the profile's destination Regions lie in geography "+geo+", then set backend.residency_checked: true",
				"%q is a cross-Region inference profile (%s.) that may run in %s Regions, which Meridian cannot place in geography %s", model, pfx, strings.Join(outside, " and "), geo)
		}
	}
	if b.Endpoint != "" {
		if u, err := url.Parse(b.Endpoint); err == nil {
			for _, label := range strings.Split(u.Hostname(), ".") {
				if awsFamily(label) != "" && label != b.AWSRegion {
					p.add(f+".backend.endpoint", "use a bedrock-runtime endpoint of "+b.AWSRegion+", or set aws_region to the endpoint's Region if it lies in geography "+geo,
						"the endpoint's host names Region %s, not aws_region %s", label, b.AWSRegion)
					break
				}
			}
		}
	}
}

// outsideGeography says why the AWS Region region is not in dep's
// geography, or returns "" when it is (see the comment at the top).
func (c *Config) outsideGeography(region string, dep Region) string {
	if r, ok := c.Region(region); ok {
		if r.Geography != dep.Geography {
			return fmt.Sprintf("%s is a region of geography %s", region, r.Geography)
		}
		return ""
	}
	fam, depFam := awsFamily(region), awsFamily(dep.ID)
	switch {
	case depFam == "":
		return fmt.Sprintf("%s is not a region of the topology, and the deployment's region id %s is not an AWS Region id to compare it with", region, dep.ID)
	case fam != depFam:
		return fmt.Sprintf("%s is an AWS Region of the %s- family, the deployment's region %s of the %s- family", region, fam, dep.ID, depFam)
	}
	if other := c.splitFamily(fam, dep.Geography); other != "" {
		return fmt.Sprintf("%s is not a region of the topology, which puts %s- Regions in other geographies too (%s)", region, fam, other)
	}
	return ""
}

// splitFamily returns a region of the topology whose id is an AWS Region
// of family fam and whose geography is not geo ("" if none): the
// topology then does not put all of that family in geo.
func (c *Config) splitFamily(fam, geo string) string {
	for _, r := range c.Regions {
		if r.Geography != geo && awsFamily(r.ID) == fam {
			return r.ID + " in " + r.Geography
		}
	}
	return ""
}

// exampleRegion is an AWS Region of dep's geography, for a fix: dep's own
// id when it is one, else a region of the topology in its geography.
func (c *Config) exampleRegion(dep Region) string {
	if awsFamily(dep.ID) != "" {
		return dep.ID
	}
	for _, r := range c.Regions {
		if r.Geography == dep.Geography && awsFamily(r.ID) != "" {
			return r.ID
		}
	}
	return "a region of the topology in geography " + dep.Geography + " named by its AWS Region id"
}

// geoPrefixHint names the cross-Region profile of the family of region
// (eu. for eu-central-1), for a fix.
func geoPrefixHint(region string) string {
	switch fam := awsFamily(region); fam {
	case "us", "us-gov", "eu":
		return fam + "."
	}
	return "matching geographic"
}

package deploytest

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// object is a rendered Kubernetes object, with the fields the checks read.
type object struct {
	Kind     string `json:"kind"`
	Metadata struct {
		Name        string            `json:"name"`
		Namespace   string            `json:"namespace"`
		Labels      map[string]string `json:"labels"`
		Annotations map[string]string `json:"annotations"`
	} `json:"metadata"`
	Data       map[string]string `json:"data"`
	StringData map[string]string `json:"stringData"`
	Spec       json.RawMessage   `json:"spec"`
}

type deploymentSpec struct {
	Replicas int `json:"replicas"`
	Strategy struct {
		Type string `json:"type"`
	} `json:"strategy"`
	Template struct {
		Metadata struct {
			Annotations map[string]string `json:"annotations"`
		} `json:"metadata"`
		Spec podSpec `json:"spec"`
	} `json:"template"`
}

type podSpec struct {
	HostNetwork                  bool              `json:"hostNetwork"`
	HostPID                      bool              `json:"hostPID"`
	DNSPolicy                    string            `json:"dnsPolicy"`
	AutomountServiceAccountToken *bool             `json:"automountServiceAccountToken"`
	NodeSelector                 map[string]string `json:"nodeSelector"`
	InitContainers               []container       `json:"initContainers"`
	Containers                   []container       `json:"containers"`
	Volumes                      []volume          `json:"volumes"`
}

type container struct {
	Name    string   `json:"name"`
	Image   string   `json:"image"`
	Command []string `json:"command"`
	Args    []string `json:"args"`
	Env     []envVar `json:"env"`
	Ports   []struct {
		Name          string `json:"name"`
		ContainerPort int    `json:"containerPort"`
	} `json:"ports"`
	StartupProbe    *probe `json:"startupProbe"`
	LivenessProbe   *probe `json:"livenessProbe"`
	ReadinessProbe  *probe `json:"readinessProbe"`
	SecurityContext *struct {
		Privileged               *bool `json:"privileged"`
		AllowPrivilegeEscalation *bool `json:"allowPrivilegeEscalation"`
		ReadOnlyRootFilesystem   *bool `json:"readOnlyRootFilesystem"`
		Capabilities             *struct {
			Add  []string `json:"add"`
			Drop []string `json:"drop"`
		} `json:"capabilities"`
	} `json:"securityContext"`
	VolumeMounts []volumeMount `json:"volumeMounts"`
}

type volumeMount struct {
	Name      string `json:"name"`
	MountPath string `json:"mountPath"`
	ReadOnly  bool   `json:"readOnly"`
}

type envVar struct {
	Name      string `json:"name"`
	Value     string `json:"value"`
	ValueFrom *struct {
		SecretKeyRef *struct {
			Name string `json:"name"`
			Key  string `json:"key"`
		} `json:"secretKeyRef"`
	} `json:"valueFrom"`
}

type probe struct {
	HTTPGet *struct {
		Path   string `json:"path"`
		Port   any    `json:"port"`   // a number or a port name
		Scheme string `json:"scheme"` // HTTP when empty
	} `json:"httpGet"`
}

type volume struct {
	Name     string `json:"name"`
	HostPath *struct {
		Path string `json:"path"`
		Type string `json:"type"`
	} `json:"hostPath"`
	EmptyDir  *struct{} `json:"emptyDir"`
	ConfigMap *struct {
		Name string `json:"name"`
	} `json:"configMap"`
	Secret *struct {
		SecretName string `json:"secretName"`
		Items      []any  `json:"items"`
	} `json:"secret"`
}

type serviceSpec struct {
	Type  string `json:"type"`
	Ports []struct {
		Name       string `json:"name"`
		Port       int    `json:"port"`
		TargetPort any    `json:"targetPort"`
		NodePort   int    `json:"nodePort"`
	} `json:"ports"`
}

// rendered is the output of helm template, by kind and name.
type rendered map[string]map[string]object

// parseManifests splits helm template output into objects.
func parseManifests(out string) (rendered, error) {
	r := rendered{}
	for _, doc := range strings.Split("\n"+out, "\n---") {
		js, err := yaml.YAMLToJSON([]byte(doc))
		if err != nil {
			return nil, fmt.Errorf("parse rendered YAML: %w\n%s", err, doc)
		}
		if string(js) == "null" {
			continue
		}
		var o object
		if err := json.Unmarshal(js, &o); err != nil {
			return nil, fmt.Errorf("decode object: %w", err)
		}
		if r[o.Kind] == nil {
			r[o.Kind] = map[string]object{}
		}
		if _, dup := r[o.Kind][o.Metadata.Name]; dup {
			return nil, fmt.Errorf("%s %s rendered twice", o.Kind, o.Metadata.Name)
		}
		r[o.Kind][o.Metadata.Name] = o
	}
	return r, nil
}

// only returns the one object of kind, or an error.
// onlySpec returns r's one object of kind, its spec decoded into spec.
func onlySpec(t *testing.T, r rendered, kind string, spec any) object {
	t.Helper()
	o, err := r.only(kind)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(o.Spec, spec); err != nil {
		t.Fatalf("%s spec: %v", kind, err)
	}
	return o
}

func (r rendered) only(kind string) (object, error) {
	if len(r[kind]) != 1 {
		return object{}, fmt.Errorf("want one %s, got %d", kind, len(r[kind]))
	}
	for _, o := range r[kind] {
		return o, nil
	}
	return object{}, nil
}
